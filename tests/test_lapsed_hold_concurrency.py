"""Carts whose holds lapsed, changed at once on separate connections: each change re-checks
and re-holds every line of its cart under the tier locks, so together the live holds still fit
in the seats (`flask check`: sold + live holds <= capacity)."""

import random

import pytest

from tests.helpers import lapsed_carts, run_together, violations

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
