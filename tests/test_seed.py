"""`flask seed`: a realistic, deterministic demo catalogue that is safe to run twice."""

from datetime import UTC, datetime

from shop.extensions import db
from shop.seed import DEMO_ADMIN, DEMO_CUSTOMER, seed
from shop.services.passwords import verify_password


def test_seed_fills_an_empty_database(runner, sql):
    result = runner.invoke(args=["seed", "--events", "120"])
    assert result.exit_code == 0, result.output
    assert "Seeded 120 events" in result.output
    assert DEMO_CUSTOMER["email"] in result.output and DEMO_ADMIN["password"] in result.output

    counts = sql(
        "SELECT count(*) FILTER (WHERE status = 'published' AND starts_at > now()) AS upcoming,"
        " count(*) FILTER (WHERE starts_at < now()) AS past,"
        " count(*) FILTER (WHERE status = 'draft') AS drafts,"
        " count(*) FILTER (WHERE status = 'cancelled') AS cancelled,"
        " count(DISTINCT venue_id) AS venues FROM event"
    )[0]
    assert counts["upcoming"] > 90
    assert counts["past"] > 0 and counts["drafts"] > 0 and counts["cancelled"] > 0
    cities = sql("SELECT count(DISTINCT city) AS n FROM venue")[0]["n"]
    assert cities >= 4
    tiers = sql(
        "SELECT min(n) AS fewest, max(n) AS most FROM"
        " (SELECT count(*) AS n FROM ticket_type GROUP BY event_id) per_event"
    )[0]
    assert tiers["fewest"] >= 1 and tiers["most"] <= 4
    sold_out = sql("SELECT count(*) AS n FROM ticket_type WHERE sold = capacity")[0]["n"]
    assert sold_out > 0
    assert sql("SELECT DISTINCT currency FROM ticket_type") == [{"currency": "DKK"}]


def test_demo_accounts_can_sign_in_with_documented_passwords(runner, sql):
    runner.invoke(args=["seed", "--events", "5"])
    rows = sql("SELECT email, role, password_hash FROM app_user ORDER BY role")
    by_email = {row["email"]: row for row in rows}
    assert by_email[DEMO_ADMIN["email"]]["role"] == "admin"
    assert by_email[DEMO_CUSTOMER["email"]]["role"] == "customer"
    assert verify_password(by_email[DEMO_ADMIN["email"]]["password_hash"], DEMO_ADMIN["password"])


def test_seed_twice_changes_nothing(runner, sql):
    runner.invoke(args=["seed", "--events", "30"])
    before = sql("SELECT count(*) AS events, max(updated_at) AS changed FROM event")
    users_before = sql("SELECT count(*) AS n FROM app_user")
    result = runner.invoke(args=["seed", "--events", "30"])
    assert result.exit_code == 0
    assert "nothing to do" in result.output
    assert sql("SELECT count(*) AS events, max(updated_at) AS changed FROM event") == before
    assert sql("SELECT count(*) AS n FROM app_user") == users_before


def test_seed_reset_starts_over(runner, sql, make):
    make.event(title="Left over from before")
    result = runner.invoke(args=["seed", "--reset", "--events", "10"])
    assert result.exit_code == 0, result.output
    assert sql("SELECT count(*) AS n FROM event")[0]["n"] == 10
    assert sql("SELECT count(*) AS n FROM event WHERE title = 'Left over from before'")[0]["n"] == 0
    assert sql("SELECT min(id) AS first FROM event")[0]["first"] == 1


def test_same_seed_same_day_gives_the_same_catalogue(app, sql):
    day = datetime(2026, 11, 27, tzinfo=UTC)
    snapshots = []
    for _ in range(2):
        with app.app_context():
            db.session.execute(db.text("TRUNCATE event, venue, category RESTART IDENTITY CASCADE"))
            seed(db.session, events=40, random_seed=7, today=day)
            db.session.commit()
        snapshots.append(
            sql(
                "SELECT e.title, e.starts_at, e.status, t.name, t.price, t.capacity, t.sold"
                " FROM event e JOIN ticket_type t ON t.event_id = e.id ORDER BY e.id, t.id"
            )
        )
    assert snapshots[0] == snapshots[1]
    assert len(snapshots[0]) >= 40
