"""`flask seed`: a realistic, deterministic demo catalogue that is safe to run twice."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shop.extensions import db
from shop.seed import BUYER_PASSWORD_HASH, DEMO_ADMIN, DEMO_CUSTOMER, reset_database, seed
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


def test_same_seed_same_day_gives_the_same_catalogue_and_sales(app, sql):
    day = datetime(2026, 11, 27, tzinfo=UTC)
    snapshots = []
    for _ in range(2):
        with app.app_context():
            reset_database(db.session)
            seed(db.session, events=40, random_seed=7, today=day)
            db.session.commit()
        snapshots.append(
            (
                sql(
                    "SELECT e.title, e.starts_at, e.status, t.name, t.price, t.capacity, t.sold"
                    " FROM event e JOIN ticket_type t ON t.event_id = e.id ORDER BY e.id, t.id"
                ),
                sql(
                    "SELECT o.id, o.user_id, o.status, o.total, o.created_at, oi.ticket_type_id,"
                    " oi.quantity, (SELECT array_agg(status ORDER BY id) FROM ticket"
                    " WHERE order_item_id = oi.id) AS tickets FROM customer_order o"
                    " JOIN order_item oi ON oi.order_id = o.id ORDER BY o.id"
                ),
            )
        )
    assert snapshots[0] == snapshots[1]
    assert len(snapshots[0][0]) >= 40 and len(snapshots[0][1]) > 40


# --- the seed tells the truth ------------------------------------------------------------------


@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["seed", "--reset", "--events", "120"])  # fresh: ids from 1
    assert result.exit_code == 0, result.output
    return result


def test_every_sold_seat_is_a_ticket_of_a_confirmed_order(seeded, sql):
    assert "orders and" in seeded.output
    mismatched = sql(
        "SELECT t.id, t.sold, count(tk.id) FILTER (WHERE tk.status IN ('valid', 'used')) AS live"
        " FROM ticket_type t LEFT JOIN order_item oi ON oi.ticket_type_id = t.id"
        " LEFT JOIN ticket tk ON tk.order_item_id = oi.id GROUP BY t.id"
        " HAVING t.sold <> count(tk.id) FILTER (WHERE tk.status IN ('valid', 'used'))"
    )
    assert mismatched == []
    totals = sql(
        "SELECT sum(sold) AS sold, count(*) FILTER (WHERE sold = capacity) AS sold_out"
        " FROM ticket_type"
    )[0]
    assert totals["sold"] > 500 and totals["sold_out"] > 0
    # Orders are what checkout writes: total = lines, one ticket per seat, statuses agree.
    assert (
        sql(
            "SELECT o.id FROM customer_order o JOIN order_item oi ON oi.order_id = o.id"
            " GROUP BY o.id HAVING o.total <> sum(oi.line_total)"
        )
        == []
    )
    assert (
        sql(
            "SELECT oi.id FROM order_item oi LEFT JOIN ticket tk ON tk.order_item_id = oi.id"
            " GROUP BY oi.id HAVING count(tk.id) <> oi.quantity"
        )
        == []
    )
    statuses = sql(
        "SELECT o.status, tk.status AS ticket, count(*) AS n FROM customer_order o"
        " JOIN order_item oi ON oi.order_id = o.id JOIN ticket tk ON tk.order_item_id = oi.id"
        " GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert {(row["status"], row["ticket"]) for row in statuses} == {
        ("cancelled", "void"),
        ("confirmed", "used"),
        ("confirmed", "valid"),
    }
    # Every order came from its own checked-out cart; drafts never sold.
    assert sql(
        "SELECT count(*) AS n FROM customer_order o JOIN cart c ON c.id = o.cart_id"
        " WHERE c.status <> 'checked_out' OR c.user_id <> o.user_id"
    ) == [{"n": 0}]
    assert sql(
        "SELECT count(*) AS n FROM ticket_type t JOIN event e ON e.id = t.event_id"
        " WHERE e.status = 'draft' AND t.sold > 0"
    ) == [{"n": 0}]
    assert sql("SELECT count(*) AS n FROM ticket WHERE code !~ '^[A-Z2-7]{32}$'") == [{"n": 0}]


def test_demo_customer_has_past_orders_and_an_open_cart(seeded, sql):
    customer = sql("SELECT id FROM app_user WHERE email = :e", e=DEMO_CUSTOMER["email"])[0]["id"]
    orders = sql(
        "SELECT o.id, o.status, bool_or(tk.status = 'used') AS scanned FROM customer_order o"
        " JOIN order_item oi ON oi.order_id = o.id JOIN ticket tk ON tk.order_item_id = oi.id"
        " WHERE o.user_id = :u GROUP BY o.id ORDER BY o.id",
        u=customer,
    )
    assert orders[0]["id"] == 1 and orders[0]["scanned"] is True
    assert {order["status"] for order in orders} == {"confirmed", "cancelled"}
    cart = sql(
        "SELECT c.id, c.hold_expires_at > now() AS held, count(ci.id) AS lines FROM cart c"
        " JOIN cart_item ci ON ci.cart_id = c.id WHERE c.user_id = :u AND c.status = 'active'"
        " GROUP BY c.id",
        u=customer,
    )
    assert cart == [{"id": 1, "held": True, "lines": 2}]


def test_sales_report_adds_up_on_seeded_data(seeded, client, auth, make, sql):
    headers = auth.headers(make.user(role="admin"))
    events = []
    for page in (1, 2):
        response = client.get(f"/api/admin/reports/sales?page={page}&pageSize=100", headers=headers)
        assert response.status_code == 200
        events += response.get_json()["data"]
    assert len(events) == 120
    live_tickets = sql("SELECT count(*) AS n FROM ticket WHERE status IN ('valid', 'used')")[0]
    assert sum(event["sold"] for event in events) == live_tickets["n"] > 0
    revenue = sql("SELECT sum(total) AS amount FROM customer_order WHERE status = 'confirmed'")[0]
    reported = sum(Decimal(event["revenue"]["amount"]) for event in events)
    assert reported == revenue["amount"] > 0
    orders = sql(
        "SELECT count(DISTINCT o.id) AS n FROM customer_order o WHERE o.status = 'confirmed'"
    )[0]["n"]
    # Each seeded order buys one event, so the events' order counts add up to all orders.
    assert sum(event["orders"] for event in events) == orders
    for event in events:
        tiers = event["ticketTypes"]
        assert event["sold"] == sum(tier["sold"] for tier in tiers)
        assert (event["orders"] == 0) == (event["sold"] == 0)


def test_bulk_load_puts_every_index_and_constraint_back(runner, sql):
    schema = (
        "SELECT indexdef AS definition FROM pg_indexes WHERE schemaname = 'public'"
        " UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE connamespace = 'public'::regnamespace ORDER BY 1"
    )
    before = sql(schema)
    assert runner.invoke(args=["seed", "--events", "20"]).exit_code == 0
    assert sql(schema) == before


# --- demo accounts only when asked for -----------------------------------------------------------


def test_production_seed_creates_no_demo_accounts_unless_asked(app, runner, sql, monkeypatch):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    result = runner.invoke(args=["seed", "--events", "10"])
    assert result.exit_code == 0, result.output
    assert DEMO_ADMIN["password"] not in result.output and "--demo-accounts" in result.output
    demo = "SELECT count(*) AS n FROM app_user WHERE email IN (:c, :a)"
    assert sql(demo, c=DEMO_CUSTOMER["email"], a=DEMO_ADMIN["email"]) == [{"n": 0}]
    # Seeded buyers cannot sign in with any password.
    assert sql("SELECT count(*) AS n FROM customer_order")[0]["n"] > 0
    asked = runner.invoke(args=["seed", "--events", "10", "--demo-accounts"])
    assert asked.exit_code == 0 and DEMO_ADMIN["password"] in asked.output
    assert sql(demo, c=DEMO_CUSTOMER["email"], a=DEMO_ADMIN["email"]) == [{"n": 2}]


def test_seeded_buyers_cannot_sign_in(seeded, client, sql):
    email = sql("SELECT email FROM app_user WHERE email LIKE 'buyer%' LIMIT 1")[0]["email"]
    for password in ("", "Customer-Pass-2026", BUYER_PASSWORD_HASH):
        response = client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code in (401, 422)
