"""Availability has one definition (shop/services/availability.py): for every consumer, a live
hold of another cart counts against the seats left and an expired one does not."""

import pytest

from tests.factories import DEFAULT_PASSWORD


@pytest.fixture
def tier(make):
    """10 seats, 2 sold; another cart holds 5 of them (live or expired per test)."""
    return make.ticket_type(make.event(title="Held Night"), capacity=10, sold=2)


@pytest.fixture(params=["live", "expired"])
def hold(request, make, tier):
    minutes = 15 if request.param == "live" else -1
    make.cart([(tier, 5)], hold_minutes=minutes)
    # Seats left for anyone but the holder: 10 - 2 - 5 with a live hold, 10 - 2 without.
    return {"state": request.param, "left": 3 if request.param == "live" else 8}


def test_listing_counts_only_live_holds(client, tier, hold):
    items = client.get("/api/events?q=held").get_json()["data"]
    assert [item["ticketsAvailable"] for item in items] == [hold["left"]]


def test_detail_counts_only_live_holds(client, tier, hold):
    tiers = client.get(f"/api/events/{tier.event_id}").get_json()["data"]["ticketTypes"]
    assert [t["available"] for t in tiers] == [hold["left"]]


def test_cart_counts_only_live_holds(client, tier, hold):
    response = client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 4})
    if hold["state"] == "live":
        assert response.status_code == 409
        assert response.get_json()["available"] == hold["left"]
    else:
        assert response.status_code == 201
        assert response.get_json()["data"]["items"][0]["available"] == hold["left"]


def test_checkout_counts_only_live_holds(client, make, auth, tier, hold, sql):
    buyer = make.user()
    make.cart([(tier, 8)], user=buyer, hold_minutes=-1)  # its own hold lapsed: it competes
    response = client.post("/api/cart/checkout", headers=auth.headers(buyer))
    assert response.status_code == (409 if hold["state"] == "live" else 201)
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 2 if hold["state"] == "live" else 10}]


def test_merge_counts_only_live_holds(client, make, auth, tier, hold):
    guest = client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1})
    user = make.user()
    make.cart([(tier, 3)], user=user)
    login = auth.login(
        user.email, DEFAULT_PASSWORD, headers={"X-Cart-Token": guest.headers["X-Cart-Token"]}
    )
    assert login.status_code == 200
    cart = client.get("/api/cart", headers=auth.headers(user)).get_json()["data"]
    # 3 + 1 wanted; left for the merged cart: 10 - 2 sold - the other cart's 5 if live.
    assert [line["quantity"] for line in cart["items"]] == [3 if hold["state"] == "live" else 4]


def test_sales_report_held_counts_only_live_holds(client, make, auth, tier, hold):
    admin = auth.headers(make.user(role="admin"))
    report = client.get("/api/admin/reports/sales", headers=admin).get_json()["data"]
    (event,) = [e for e in report if e["eventId"] == tier.event_id]
    assert event["held"] == (5 if hold["state"] == "live" else 0)
    assert event["remaining"] == hold["left"]


def test_a_listing_during_a_rush_reads_each_live_hold_once(app, make):
    """During an on-sale rush hundreds of carts hold seats. A listing page sums the live holds
    per tier once for the whole statement, instead of reading every live cart again for each
    of its tiers (500 live holds: 120 000 buffers and 9-27 ms a page), and the seats left stay
    exact (shop.services.availability.available_expression)."""
    import json

    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.extensions import db
    from shop.services.catalog import EventFilters, filter_values, match_cap
    from tests.test_catalog_indexes import plan_nodes

    events = [make.event() for _ in range(6)]
    tiers = [make.ticket_type(event, capacity=50) for event in events for _ in range(3)]
    for n in range(40):
        make.cart([(tiers[n % len(tiers)], 1 + n % 2)])
    make.cart([(tiers[0], 7)], hold_minutes=-1)  # expired: holds nothing
    held: dict[int, int] = {}
    for n in range(40):
        held[tiers[n % len(tiers)].event_id] = (
            held.get(tiers[n % len(tiers)].event_id, 0) + 1 + n % 2
        )
    filters = EventFilters()
    values = {**filter_values(filters), **page_values(1, 20, match_cap(filters))}
    with app.app_context():
        connection = db.session.connection()
        connection.exec_driver_sql("ANALYZE cart")
        connection.exec_driver_sql("ANALYZE cart_item")
        sql = compile_once(listing_json_statement(filters), connection.dialect, values)
        plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", values).scalar()
        body = json.loads(connection.exec_driver_sql(sql, values).scalar_one())
        db.session.rollback()
    nodes = list(plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
    cart_rows = sum(
        n["Actual Rows"] * n["Actual Loops"] for n in nodes if n.get("Relation Name") == "cart"
    )
    assert cart_rows <= 41, cart_rows  # each live cart once (not once per tier: 18 x 40)
    seats = {item["id"]: item["ticketsAvailable"] for item in body["data"]}
    assert seats == {event_id: 3 * 50 - held.get(event_id, 0) for event_id in seats}
    assert len(seats) == 6
