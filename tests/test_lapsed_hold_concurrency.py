"""Carts whose holds lapsed, changed at once on separate connections: each change re-checks
and re-holds every line of its cart under the tier locks, so together the live holds still fit
in the seats (`flask check`: sold + live holds <= capacity). And a hold committed while an add
waits for its tier lock is counted by that add."""

import random

import pytest

from tests.helpers import lapsed_carts, lock_taken_meanwhile, problem, run_together, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]


@pytest.mark.parametrize("seed", range(6))
def test_adds_to_lapsed_carts_at_once_never_hold_more_seats_than_exist(app, make, auth, sql, seed):
    rng = random.Random(seed)
    scarce = [make.ticket_type(capacity=6, max_per_order=4) for _ in range(3)]
    roomy = make.ticket_type(capacity=100, max_per_order=4)
    buyers = lapsed_carts(make, auth, rng, scarce, roomy, 12)

    def add_one(headers, tier_id):
        def action():
            response = app.test_client().post(
                "/api/cart/items", json={"ticketTypeId": tier_id, "quantity": 1}, headers=headers
            )
            return response.status_code, response.get_json()

        return action

    answers = run_together([add_one(headers, tier_id) for headers, tier_id in buyers])

    assert {status for status, _ in answers} <= {201, 409}, answers
    assert 201 in {status for status, _ in answers}
    assert violations(app) == [], sql(
        "SELECT c.id, c.hold_expires_at > now() AS live, i.ticket_type_id, i.quantity"
        " FROM cart c JOIN cart_item i ON i.cart_id = c.id ORDER BY c.id, i.id"
    )
    # What each accepted add answered is what its cart holds now.
    for status, body in answers:
        if status == 201:
            cart = body["data"]
            held = sql(
                "SELECT ticket_type_id, quantity FROM cart_item WHERE cart_id = :id ORDER BY id",
                id=cart["id"],
            )
            assert held == [
                {"ticket_type_id": line["ticketTypeId"], "quantity": line["quantity"]}
                for line in cart["items"]
            ]


def test_a_hold_committed_while_an_add_waits_for_the_tier_lock_is_counted(app, make, auth, sql):
    # The other cart's transaction locks the tier before the add reaches its tier lock, holds
    # every seat while the add waits, and commits. The add counts holds in a statement started
    # after its lock was granted (carts.py, "count holds in a NEW statement"), so it sees that
    # hold: counted inside the locking statement, the sum would come from the snapshot taken
    # before the wait and the add would hold a seat that is not there.
    tier = make.ticket_type(capacity=2, max_per_order=2)
    other = make.cart([], hold_minutes=15)
    buyer = make.user()
    with lock_taken_meanwhile(
        app,
        "set_config(",  # the add's first statement, before it locks anything
        "SELECT id FROM ticket_type WHERE id = :tier_id FOR UPDATE",
        "INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)"
        " SELECT :cart_id, event_id, id, 2, price FROM ticket_type WHERE id = :tier_id",
        tier_id=tier.id,
        cart_id=other.id,
    ) as committed:
        added = app.test_client().post(
            "/api/cart/items",
            json={"ticketTypeId": tier.id, "quantity": 1},
            headers=auth.headers(buyer),
        )
    assert committed == [True]
    assert problem(added, 409, "insufficient_availability")["available"] == 0
    assert violations(app) == []
    assert sql("SELECT cart_id, quantity FROM cart_item") == [{"cart_id": other.id, "quantity": 2}]
