"""The unfiltered listing's total comes from `published_event_day`, which database triggers keep
equal to the published events per day (UTC) through every change to `event` (migration 0007).

Each test changes events the way the app or an operator can (admin routes, the ORM, bulk SQL,
TRUNCATE) and compares the table with a count of the events themselves."""

import threading
from datetime import UTC, datetime, time, timedelta

import psycopg
import pytest
from sqlalchemy import text

from shop.database import libpq_url
from shop.extensions import db
from tests.factories import now
from tests.helpers import new_event_body

COUNTS_FROM_EVENTS = text(
    "SELECT coalesce(category_id, 0), coalesce(venue_id, 0), starts_on, count(*) FROM ("
    "  SELECT category_id, venue_id, (starts_at AT TIME ZONE 'UTC')::date AS starts_on"
    "  FROM event WHERE status = 'published') AS published"
    " GROUP BY GROUPING SETS ((starts_on), (category_id, starts_on), (venue_id, starts_on))"
)
DAY_COUNTS = text(
    "SELECT category_id, venue_id, starts_on, events FROM published_event_day WHERE events <> 0"
)


def assert_day_counts_match_events(app):
    """The table equals a count of the events, in all, per category and per venue; returns
    the counts in all ({day: events})."""
    with app.app_context():
        counted = {tuple(row[:3]): row[3] for row in db.session.execute(COUNTS_FROM_EVENTS)}
        kept = {tuple(row[:3]): row[3] for row in db.session.execute(DAY_COUNTS)}
        db.session.rollback()
    assert kept == counted
    return {
        day: events for (category, venue, day), events in kept.items() if category == venue == 0
    }


def run_sql(app, sql, **values):
    with app.app_context():
        db.session.execute(text(sql), values)
        db.session.commit()


@pytest.fixture
def admin(make, auth):
    return auth.headers(make.user(role="admin"))


def test_admin_changes_move_events_in_and_out_of_the_day_counts(app, client, make, admin):
    venue, category = make.venue(), make.category()
    starts = now() + timedelta(days=20)
    body = new_event_body(venue, category, starts)
    event_id = client.post("/api/admin/events", json=body, headers=admin).get_json()["data"]["id"]
    assert assert_day_counts_match_events(app) == {}  # a draft is not listed
    tiers = f"/api/admin/events/{event_id}/ticket-types"
    tier = {"name": "Standard", "price": "450.00", "capacity": 100}
    assert client.post(tiers, json=tier, headers=admin).status_code == 201
    assert client.post(f"/api/admin/events/{event_id}/publish", headers=admin).status_code == 200
    assert assert_day_counts_match_events(app) == {starts.date(): 1}

    later = starts + timedelta(days=3)
    moved = client.patch(
        f"/api/admin/events/{event_id}",
        json={"startsAt": later.isoformat(), "endsAt": (later + timedelta(hours=2)).isoformat()},
        headers=admin,
    )
    assert moved.status_code == 200
    assert assert_day_counts_match_events(app) == {later.date(): 1}
    elsewhere = {"venueId": make.venue(city="Odense").id, "categoryId": make.category().id}
    assert (
        client.patch(f"/api/admin/events/{event_id}", json=elsewhere, headers=admin).status_code
        == 200
    )
    assert assert_day_counts_match_events(app) == {later.date(): 1}

    assert client.post(f"/api/admin/events/{event_id}/cancel", headers=admin).status_code == 200
    assert assert_day_counts_match_events(app) == {}


def test_inserts_updates_and_deletes_of_many_rows_keep_the_day_counts(app, make):
    venue, category = make.venue(), make.category()
    run_sql(
        app,
        "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status)"
        " SELECT 'Bulk ' || n, now() + n * interval '7 hours',"
        "  now() + n * interval '7 hours' + interval '1 hour', :venue, :category,"
        "  CASE WHEN n % 5 = 0 THEN 'draft' ELSE 'published' END"
        " FROM generate_series(1, 200) AS n",
        venue=venue.id,
        category=category.id,
    )
    assert sum(assert_day_counts_match_events(app).values()) == 160
    # Drafts published, some events moved a day later, an unrelated column changed: one
    # statement, rows both entering and leaving days.
    run_sql(
        app,
        "UPDATE event SET status = 'published',"
        " starts_at = starts_at + CASE WHEN id % 3 = 0 THEN interval '1 day' ELSE interval '0' END,"
        " ends_at = ends_at + CASE WHEN id % 3 = 0 THEN interval '1 day' ELSE interval '0' END,"
        " title = title || '!'",
    )
    assert sum(assert_day_counts_match_events(app).values()) == 200
    other_venue, other_category = make.venue(), make.category()
    run_sql(app, "UPDATE event SET venue_id = :venue WHERE id % 2 = 0", venue=other_venue.id)
    run_sql(app, "UPDATE event SET category_id = :id WHERE id % 3 = 1", id=other_category.id)
    assert_day_counts_match_events(app)
    run_sql(app, "UPDATE event SET status = 'cancelled' WHERE id % 4 = 0")
    run_sql(app, "DELETE FROM event WHERE id % 7 = 0")
    assert_day_counts_match_events(app)
    # Adding and repricing tiers changes price_from (a trigger UPDATEs the event): the day
    # counts stay as they are.
    priced = make.event()
    tier = make.ticket_type(event=priced)
    run_sql(app, "UPDATE ticket_type SET price = price + 1 WHERE id = :tier", tier=tier.id)
    assert_day_counts_match_events(app)


def test_truncating_events_empties_the_day_counts(app, make):
    make.event()
    make.event(starts_at=now() + timedelta(days=2))
    assert sum(assert_day_counts_match_events(app).values()) == 2
    run_sql(app, "TRUNCATE event CASCADE")
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM published_event_day")).scalar() == 0
        db.session.rollback()


@pytest.mark.parametrize(
    "scope", ["", "category=day-counted", "city=aarhus"], ids=["all", "category", "city"]
)
def test_a_day_counted_total_counts_what_has_not_started_yet(app, client, make, monkeypatch, scope):
    """Whatever the time of day: an event that started a minute ago is no longer counted, one in
    a minute is (both are usually today, counted from the index), and tomorrow's and later
    days' come from the day counts. Drafts, cancelled events and other categories or cities
    never count."""
    category = make.category(slug="day-counted")
    venue = make.venue(city="Aarhus")

    def event(**fields):
        return make.event(category_id=category.id, venue_id=venue.id, **fields)

    tomorrow = datetime.combine(now().date() + timedelta(days=1), time(), tzinfo=UTC)
    event(starts_at=now() - timedelta(minutes=1))
    upcoming = [
        event(starts_at=now() + timedelta(minutes=1)),
        event(starts_at=tomorrow),
        event(starts_at=tomorrow + timedelta(days=3)),
    ]
    event(starts_at=tomorrow, status="draft")
    event(starts_at=tomorrow, status="cancelled")
    elsewhere = make.event(starts_at=tomorrow, venue_id=make.venue(city="Odense").id)
    expected = {e.id for e in upcoming} | ({elsewhere.id} if not scope else set())

    listed = client.get(f"/api/events?sort=title&{scope}").get_json()
    assert listed["meta"]["totalItems"] == len(expected)
    assert {e["id"] for e in listed["data"]} == expected
    # The same count as a listing that walks its matches (`to` is not day-counted).
    walked = client.get(f"/api/events?to=2099-12-31&{scope}").get_json()["meta"]
    assert walked["totalItems"] == len(expected)

    from shop.services import catalog

    monkeypatch.setattr(catalog, "MAX_LISTED_MATCHES", 2)  # the cap still applies
    capped = client.get(f"/api/events?pageSize=1&{scope}").get_json()["meta"]
    assert (capped["totalItems"], capped["totalPages"]) == (2, 2)


def test_seeding_and_reseeding_keep_the_day_counts(app, runner, make):
    """`flask seed` bulk-loads events with COPY after a TRUNCATE; both fire the triggers."""
    make.event(title="Left over from before")
    result = runner.invoke(args=["seed", "--reset", "--events", "60"])
    assert result.exit_code == 0, result.output
    assert sum(assert_day_counts_match_events(app).values()) > 0


@pytest.mark.concurrent
@pytest.mark.usefixtures("committed")
def test_two_writers_of_the_same_day_both_count(app, make, database_url):
    """The second writer of a day waits for the first one's transaction to end, then adds to
    the count the first one committed (no lost update)."""
    venue, category = make.venue(), make.category()
    starts = now() + timedelta(days=9)
    insert = (
        "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status)"
        " VALUES (%s, %s, %s, %s, %s, 'published')"
    )

    def add(connection, title):
        connection.execute(
            insert, (title, starts, starts + timedelta(hours=2), venue.id, category.id)
        )

    with (
        psycopg.connect(libpq_url(database_url)) as first,
        psycopg.connect(libpq_url(database_url)) as second,
    ):
        add(first, "First")
        writer = threading.Thread(target=lambda: (add(second, "Second"), second.commit()))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()  # waiting for the first writer's day
        first.commit()
        writer.join(10)
        assert not writer.is_alive()
    assert assert_day_counts_match_events(app) == {starts.date(): 2}


@pytest.mark.concurrent
@pytest.mark.usefixtures("committed")
@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Adak", "UTC"])
def test_day_counted_totals_match_walked_counts_at_midnights_in_any_time_zone(
    client, make, database_url, zone
):
    """Events written at UTC midnights and a microsecond before, ±14 h, from sessions in other
    time zones, then moved across days, categories, venues and statuses: `totalItems` of every
    day-counted scope (all, a category, a city in any case) equals a count that walks the events
    (`to` makes the listing walk), whatever the sort. A "day" is the UTC day everywhere."""
    category, other_category = make.category(slug="c1"), make.category(slug="c2")
    venue, other_venue = make.venue(city="Aarhus"), make.venue(city="aarhus")
    third = make.venue(city="Odense")
    today = datetime.combine(now().date(), time(), tzinfo=UTC)
    moments = [
        now() + timedelta(seconds=30),
        now() - timedelta(seconds=30),
        today + timedelta(days=1) - timedelta(microseconds=1),
        today + timedelta(days=1),
        today + timedelta(hours=10),
        today + timedelta(days=1, hours=10),
        today + timedelta(days=1, hours=14),
        today - timedelta(hours=10),
        today + timedelta(days=2, hours=-14),
    ]
    insert = (
        "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
    )
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(f"SET TIME ZONE '{zone}'")
        ids = []
        for n, at in enumerate(moments):
            for v, c in [(venue, category), (other_venue, other_category), (third, category)]:
                ids.append(
                    conn.execute(
                        insert,
                        (f"E{n}", at, at + timedelta(hours=1), v.id, c.id, "published"),
                    ).fetchone()[0]
                )
        # moves across days, categories, venues and statuses, in that zone
        conn.execute(
            "UPDATE event SET starts_at = starts_at + interval '13 hours',"
            " ends_at = ends_at + interval '13 hours' WHERE id = ANY(%s)",
            (ids[::4],),
        )
        conn.execute("UPDATE event SET status = 'draft' WHERE id = ANY(%s)", (ids[1::5],))
        conn.execute(
            "UPDATE event SET category_id = %s, venue_id = %s WHERE id = ANY(%s)",
            (other_category.id, third.id, ids[2::6]),
        )
        conn.execute("DELETE FROM event WHERE id = ANY(%s)", (ids[3::7],))
        conn.commit()

    for scope in ["", "category=c1", "category=c2", "city=aarhus", "city=AARHUS", "city=odense"]:
        for sort in ["startsAt", "-startsAt", "title", "price", "-price"]:
            counted = client.get(f"/api/events?sort={sort}&{scope}").get_json()["meta"]
            walked = client.get(f"/api/events?to=2099-12-31&{scope}").get_json()["meta"]
            assert counted["totalItems"] == walked["totalItems"], (scope, sort)
