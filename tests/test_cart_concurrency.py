"""Concurrent cart changes on real, separate connections: no lost updates, no over-holding."""

import pytest

from tests.helpers import meanwhile, problem, run_in_threads, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]


def test_concurrent_adds_to_one_line_lose_no_update(app, make, sql):
    tier = make.ticket_type(make.event(), capacity=100, max_per_order=50)
    client = app.test_client()
    first = client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1})
    token = first.headers["X-Cart-Token"]

    def add_one(_):
        response = app.test_client().post(
            "/api/cart/items",
            json={"ticketTypeId": tier.id, "quantity": 1},
            headers={"X-Cart-Token": token},
        )
        return response.status_code

    statuses = run_in_threads(8, add_one)
    assert statuses == [201] * 8
    assert sql("SELECT quantity FROM cart_item") == [{"quantity": 9}]
    assert violations(app) == []


def test_concurrent_carts_never_hold_more_seats_than_exist(app, make, sql):
    tier = make.ticket_type(make.event(), capacity=5, max_per_order=5)

    def new_cart_takes_one(_):
        response = app.test_client().post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1}
        )
        return response.status_code

    statuses = run_in_threads(12, new_cart_takes_one)
    assert sorted(statuses) == [201] * 5 + [409] * 7
    held = sql("SELECT sum(quantity) AS held, count(*) AS lines FROM cart_item")[0]
    assert held == {"held": 5, "lines": 5}
    assert violations(app) == []


def test_concurrent_adds_from_one_address_never_pass_its_seat_cap(app, make, sql):
    """Each add waits for the address's advisory lock, so the cap counts every other add (the
    adds are for different ticket types, so no tier lock lines them up instead)."""
    event = make.event()
    tiers = [make.ticket_type(event, name=f"Tier {n}", max_per_order=10) for n in range(12)]

    def new_cart_takes_three(n):
        response = app.test_client().post(
            "/api/cart/items",
            json={"ticketTypeId": tiers[n].id, "quantity": 3},
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        )
        return response.status_code

    statuses = run_in_threads(12, new_cart_takes_three)
    assert sorted(statuses) == [201] * 6 + [409] * 6  # 6 x 3 = 18 seats; a 7th would be 21
    assert sql("SELECT sum(quantity) AS held FROM cart_item") == [{"held": 18}]
    assert violations(app) == []


def test_an_add_checks_seats_against_the_tier_as_locked_not_as_first_read(app, make, auth, sql):
    # The add reads its tier in its first statement, before any lock; a checkout that commits
    # right then sells a seat. The check under the tier lock must count that sale.
    tier = make.ticket_type(make.event(), capacity=2)
    buyer = make.user()
    make.cart([(tier, 1)], user=buyer)

    def buyer_checks_out():
        response = app.test_client().post("/api/cart/checkout", headers=auth.headers(buyer))
        assert response.status_code == 201, response.get_json()
        return True

    # The add's first statement reads the tier and sets the lock timeout (start_change).
    with meanwhile(app, "set_config(", buyer_checks_out) as sold_meanwhile:
        response = app.test_client().post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2}
        )

    assert sold_meanwhile
    assert problem(response, 409, "insufficient_availability")["available"] == 1
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 1}]
    assert sql(
        "SELECT count(*) AS n FROM cart_item ci JOIN cart c ON c.id = ci.cart_id"
        " WHERE c.status = 'active'"
    ) == [{"n": 0}]
    assert violations(app) == []


@pytest.mark.parametrize("what", ["tier", "event"])
@pytest.mark.parametrize("who", ["guest", "user", "user with a cart"])
def test_a_tier_deleted_while_it_is_being_added_answers_404_and_holds_nothing(
    app, make, auth, sql, what, who
):
    # The add reads its tier before any lock (a user with a cart: in the statement that locks
    # the cart); an admin deleting the tier (or its event, which takes its tiers along) commits
    # right then. The add finds no tier to lock: a 404, as if it had come a moment later, not
    # a 500.
    event = make.event()
    tier = make.ticket_type(event, capacity=5)
    admin = auth.headers(make.user(role="admin"))
    headers = auth.headers(make.user()) if who != "guest" else {}
    if who == "user with a cart":
        elsewhere = make.ticket_type(make.event(), capacity=5)
        first = app.test_client().post(
            "/api/cart/items", json={"ticketTypeId": elsewhere.id, "quantity": 1}, headers=headers
        )
        assert first.status_code == 201
        sql("UPDATE cart SET hold_expires_at = NULL")  # (the counts below are of this add)
    path = (
        f"/api/admin/ticket-types/{tier.id}" if what == "tier" else f"/api/admin/events/{event.id}"
    )

    def admin_deletes():
        response = app.test_client().delete(path, headers=admin)
        assert response.status_code == 204, response.get_json()
        return True

    with meanwhile(app, "set_config(", admin_deletes) as deleted_meanwhile:
        response = app.test_client().post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2}, headers=headers
        )

    assert deleted_meanwhile
    problem(response, 404, "ticket_type_not_found")
    assert sql("SELECT count(*) AS n FROM cart_item WHERE ticket_type_id = :id", id=tier.id) == [
        {"n": 0}
    ]
    assert sql("SELECT count(*) AS n FROM cart WHERE hold_expires_at IS NOT NULL") == [{"n": 0}]
