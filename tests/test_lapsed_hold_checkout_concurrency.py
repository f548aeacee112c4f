"""Buyers whose holds lapsed put one more ticket in their cart (re-checking and re-holding
every line under the tier locks) and check out at once, on separate connections. An accepted
add is a promise: that buyer's checkout is not refused for seats, and nobody sells a seat that
another cart's live hold promised."""

import random

import pytest

from tests.helpers import lapsed_carts, run_together, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]


@pytest.mark.parametrize("seed", range(6))
def test_adds_and_checkouts_at_once_never_sell_seats_another_cart_holds(app, make, auth, sql, seed):
    rng = random.Random(seed)
    scarce = [make.ticket_type(capacity=6, max_per_order=4) for _ in range(3)]
    roomy = make.ticket_type(capacity=100, max_per_order=4)
    buyers = lapsed_carts(make, auth, rng, scarce, roomy, 12)

    def add_then_buy(headers, tier_id):
        def action():
            client = app.test_client()
            added = client.post(
                "/api/cart/items", json={"ticketTypeId": tier_id, "quantity": 1}, headers=headers
            )
            bought = client.post("/api/cart/checkout", headers=headers)
            return added.status_code, bought.status_code, bought.get_json()

        return action

    answers = run_together([add_then_buy(headers, tier_id) for headers, tier_id in buyers])

    assert {added for added, _, _ in answers} <= {201, 409}, answers
    assert {bought for _, bought, _ in answers} <= {201, 409}, answers
    refused_despite_hold = [
        body for added, bought, body in answers if (added, bought) == (201, 409)
    ]
    assert refused_despite_hold == []
    assert violations(app) == []
    # Every seat sold is a ticket of a confirmed order (conservation, not just sold <= capacity).
    assert (
        sql(
            "SELECT t.id, t.sold, count(k.id) AS tickets FROM ticket_type t"
            " LEFT JOIN order_item i ON i.ticket_type_id = t.id"
            " LEFT JOIN ticket k ON k.order_item_id = i.id"
            " GROUP BY t.id HAVING t.sold <> count(k.id)"
        )
        == []
    )
