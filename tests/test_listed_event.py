"""A listing page's items are `listed_event` rows (their JSON text up to the seats) kept by
database triggers through every change to events, venues and categories (migration 0013), with
the seats left read from the page's tiers when the page is read. A sale, a hold, a cancel never
write a row.

Each test changes things the way the app or an operator can (admin routes, checkout and order
cancels, bulk SQL) and compares the listing's items with what the event detail (which reads the
event, venue, category and tiers themselves) says, and `flask check`'s `listed_event` rule with
the rows."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from shop.extensions import db
from tests.factories import now
from tests.helpers import violations


def run_sql(app, sql, **values):
    with app.app_context():
        db.session.execute(text(sql), values)
        db.session.commit()


@pytest.fixture
def admin(make, auth):
    return auth.headers(make.user(role="admin"))


def listed_items(client, query=""):
    """The listing's items by event id."""
    return {item["id"]: item for item in client.get(f"/api/events?{query}").get_json()["data"]}


def assert_listed_as_in_detail(client, event_id):
    """The listing's item of `event_id` holds the same values as its detail (which builds
    them from the event, venue, category and tiers themselves); returns the item."""
    item = listed_items(client, "pageSize=100")[event_id]
    detail = client.get(f"/api/events/{event_id}").get_json()["data"]
    assert item == {key: detail[key] if key != "venue" else _venue(detail) for key in item}
    return item


def _venue(detail):
    return {key: detail["venue"][key] for key in ("id", "name", "city")}


def buy(client, auth, make, lines):
    """Checkout of `lines` (tier, quantity) by a new customer: the order and its headers."""
    headers = auth.headers(make.user())
    for tier, quantity in lines:
        added = client.post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": quantity}, headers=headers
        )
        assert added.status_code in (200, 201), added.get_json()
    response = client.post("/api/cart/checkout", headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"], headers


def test_items_follow_admin_edits_of_the_event_its_venue_category_and_tiers(
    app, client, make, admin
):
    venue, category = make.venue(city="Aarhus"), make.category()
    event = make.event(venue_id=venue.id, category_id=category.id)
    assert assert_listed_as_in_detail(client, event.id)["priceFrom"] is None  # no tiers yet
    tiers = f"/api/admin/events/{event.id}/ticket-types"
    tier = {"name": "Standard", "price": "450.00", "capacity": 100}
    tier_id = client.post(tiers, json=tier, headers=admin).get_json()["data"]["id"]
    cheap = {"name": "Cheap", "price": "99.50", "capacity": 20}
    cheap_id = client.post(tiers, json=cheap, headers=admin).get_json()["data"]["id"]
    item = assert_listed_as_in_detail(client, event.id)
    assert (item["priceFrom"]["amount"], item["ticketsAvailable"]) == ("99.50", 120)

    later = now().replace(microsecond=250) + timedelta(days=40)
    edited = {
        "title": 'Late "show" \\ again',
        "startsAt": later.isoformat(),
        "endsAt": (later + timedelta(hours=2)).isoformat(),
        "imageUrl": "https://images.example.com/late.jpg",
    }
    patched = client.patch(f"/api/admin/events/{event.id}", json=edited, headers=admin)
    assert patched.status_code == 200, patched.get_json()
    item = assert_listed_as_in_detail(client, event.id)
    assert item["title"] == 'Late "show" \\ again' and item["startsAt"].endswith(".000250+00:00")

    renamed_venue = {"name": "Musikhuset", "address": "Thomas Jensens Allé", "city": "Århus"}
    put = client.put(f"/api/admin/venues/{venue.id}", json=renamed_venue, headers=admin)
    assert put.status_code == 200, put.get_json()
    renamed_category = {"slug": "live", "name": "Live & loud"}
    put = client.put(f"/api/admin/categories/{category.id}", json=renamed_category, headers=admin)
    assert put.status_code == 200, put.get_json()
    item = assert_listed_as_in_detail(client, event.id)
    assert item["venue"]["city"] == "Århus" and item["category"]["name"] == "Live & loud"

    grown = {"capacity": 150, "price": "80.00"}
    patched = client.patch(f"/api/admin/ticket-types/{tier_id}", json=grown, headers=admin)
    assert patched.status_code == 200, patched.get_json()
    item = assert_listed_as_in_detail(client, event.id)
    assert (item["priceFrom"]["amount"], item["ticketsAvailable"]) == ("80.00", 170)
    assert client.delete(f"/api/admin/ticket-types/{cheap_id}", headers=admin).status_code == 204
    assert assert_listed_as_in_detail(client, event.id)["ticketsAvailable"] == 150
    assert violations(app) == []


def row_versions(app, event_ids):
    """Each event's `listed_event` row version (`xmin`, the transaction that wrote it, and
    `ctid`, where it is): both change whenever anything writes the row."""
    with app.app_context():
        versions = db.session.execute(
            text("SELECT id, xmin::text, ctid::text FROM listed_event WHERE id = ANY(:ids)"),
            {"ids": list(event_ids)},
        ).all()
        db.session.rollback()
    return {row.id: (row.xmin, row.ctid) for row in versions}


def test_sales_holds_and_cancels_move_the_seats_an_item_shows_and_write_no_row(
    app, client, make, auth
):
    """An order over two events sells from both; its cancel gives both their seats back; a
    live hold is taken off at read time. The items show it, read from the tiers, and none of
    it writes the events' `listed_event` rows (a sale costs what it cost before them)."""
    first, second = make.event(), make.event(starts_at=now() + timedelta(days=31))
    first_tier = make.ticket_type(first, capacity=10)
    second_tiers = [make.ticket_type(second, capacity=5), make.ticket_type(second, capacity=7)]
    before = row_versions(app, [first.id, second.id])
    assert len(before) == 2
    order, headers = buy(client, auth, make, [(first_tier, 3), (second_tiers[1], 2)])
    assert assert_listed_as_in_detail(client, first.id)["ticketsAvailable"] == 7
    assert assert_listed_as_in_detail(client, second.id)["ticketsAvailable"] == 10

    make.cart([(second_tiers[0], 4), (second_tiers[1], 5)])  # all that is left of both
    make.cart([(first_tier, 2)], hold_minutes=-1)  # lapsed: takes nothing
    item = assert_listed_as_in_detail(client, second.id)
    assert (item["ticketsAvailable"], item["soldOut"]) == (1, False)
    assert assert_listed_as_in_detail(client, first.id)["ticketsAvailable"] == 7

    assert client.post(f"/api/orders/{order['id']}/cancel", headers=headers).status_code == 200
    assert assert_listed_as_in_detail(client, first.id)["ticketsAvailable"] == 10
    assert assert_listed_as_in_detail(client, second.id)["ticketsAvailable"] == 3
    assert violations(app) == []
    assert row_versions(app, [first.id, second.id]) == before


def test_a_sold_out_event_shows_no_seats(app, client, make, auth):
    event = make.event()
    tier = make.ticket_type(event, capacity=2, max_per_order=2)
    buy(client, auth, make, [(tier, 2)])
    item = assert_listed_as_in_detail(client, event.id)
    assert (item["ticketsAvailable"], item["soldOut"]) == (0, True)


def listed_event_violations(app):
    """`flask check`'s findings about `listed_event` (bulk SQL sells seats without tickets,
    which the seat rules rightly report)."""
    return [found for found in violations(app) if found.startswith("listed_event:")]


def test_bulk_changes_of_many_rows_keep_every_row_exact(app, make):
    venue, category = make.venue(), make.category()
    run_sql(
        app,
        "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status)"
        " SELECT 'Bulk ' || n, now() + n * interval '7 hours',"
        "  now() + n * interval '7 hours' + interval '1 hour', :venue, :category,"
        "  CASE WHEN n % 5 = 0 THEN 'draft' ELSE 'published' END"
        " FROM generate_series(1, 60) AS n",
        venue=venue.id,
        category=category.id,
    )
    run_sql(
        app,
        "INSERT INTO ticket_type (event_id, name, price, currency, capacity, sold)"
        " SELECT e.id, 'Tier ' || n, 100 + n, e.currency, 10 * n, n"
        " FROM event AS e CROSS JOIN generate_series(1, 3) AS n",
    )
    assert listed_event_violations(app) == []
    # One statement selling from tiers of many events, another changing capacities and
    # prices, titles and venues; then tiers and events deleted.
    run_sql(app, "UPDATE ticket_type SET sold = sold + 1 WHERE id % 2 = 0")
    run_sql(app, "UPDATE ticket_type SET capacity = capacity + id % 4, price = price - 1")
    run_sql(app, "UPDATE event SET title = title || '!', venue_id = :venue", venue=make.venue().id)
    run_sql(app, "DELETE FROM ticket_type WHERE id % 5 = 0")
    run_sql(app, "DELETE FROM event WHERE id % 7 = 0")
    assert listed_event_violations(app) == []
    with app.app_context():
        counts = db.session.execute(
            text("SELECT (SELECT count(*) FROM event), (SELECT count(*) FROM listed_event)")
        ).one()
        db.session.rollback()
    assert counts[0] == counts[1] > 0


def test_flask_check_reports_rows_that_drifted_from_their_events(app, make):
    events = [make.event(title=f"Drift {n}") for n in range(3)]
    for event in events:
        make.ticket_type(event, capacity=40, price=Decimal("10.00"))
    assert violations(app) == []
    # Written behind the triggers' back (as a bug or a hand edit would).
    run_sql(app, "UPDATE listed_event SET title = 'Drift' WHERE id = :id", id=events[0].id)
    run_sql(app, "UPDATE listed_event SET item_head = 'x' WHERE id = :id", id=events[1].id)
    run_sql(app, "DELETE FROM listed_event WHERE id = :id", id=events[2].id)
    assert violations(app) == [
        f"listed_event: event {events[0].id}: sort columns are not the event's",
        f"listed_event: event {events[1].id}: item text is not what the event gives",
        f"listed_event: event {events[2].id}: missing",
    ]


def test_seeding_writes_every_event_s_row_once_the_load_is_done(app, runner, client, make):
    """`flask seed` loads without the triggers and writes the rows afterwards: every event has
    its exact row, and the triggers are on again for what follows."""
    make.event(title="Left over from before")
    result = runner.invoke(args=["seed", "--reset", "--events", "60"])
    assert result.exit_code == 0, result.output
    assert listed_event_violations(app) == []
    with app.app_context():
        rows, events = db.session.execute(
            text("SELECT (SELECT count(*) FROM listed_event), (SELECT count(*) FROM event)")
        ).one()
        db.session.rollback()
    assert rows == events == 60
    event = make.event()
    make.ticket_type(event, capacity=9)
    assert assert_listed_as_in_detail(client, event.id)["ticketsAvailable"] == 9
