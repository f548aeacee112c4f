"""Checkout reads the cart without locking it (the sold-out fast path), so the cart can change
between that read and the moment checkout closes it. These tests change it exactly there, on
another connection that commits, and prove the checkout buys the cart as it is then, never
the stale read: a line the owner removed, or a tier an admin deleted (its lines go by ON
DELETE CASCADE, which does not touch the cart row)."""

import pytest

from tests.helpers import meanwhile, problem, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]


@pytest.fixture
def admin(make, auth):
    return auth.headers(make.user(role="admin"))


# Checkout's first statement, the read that takes no lock (shop/services/checkout.py, step 1).
CHECKOUT_READ = "WITH open_cart AS"


def test_a_line_removed_after_checkout_read_the_cart_is_not_bought(app, make, auth, sql):
    kept, removed = make.ticket_type(capacity=10), make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(kept, 1), (removed, 2)], user=user)
    [removed_line] = sql("SELECT id FROM cart_item WHERE ticket_type_id = :id", id=removed.id)
    headers = auth.headers(user)

    def owner_removes_the_line():
        response = app.test_client().delete(
            f"/api/cart/items/{removed_line['id']}", headers=headers
        )
        assert response.status_code == 200, response.get_json()
        return True

    with meanwhile(app, CHECKOUT_READ, owner_removes_the_line) as fired:
        response = app.test_client().post("/api/cart/checkout", headers=headers)

    assert fired
    assert response.status_code == 201, response.get_json()
    items = response.get_json()["data"]["items"]
    assert [(item["ticketTypeId"], item["quantity"]) for item in items] == [(kept.id, 1)]
    assert sql("SELECT id, sold FROM ticket_type ORDER BY id") == [
        {"id": kept.id, "sold": 1},
        {"id": removed.id, "sold": 0},
    ]
    assert sql("SELECT ticket_type_id FROM order_item") == [{"ticket_type_id": kept.id}]
    assert violations(app) == []


def test_a_tier_an_admin_deleted_after_checkout_read_the_cart_is_not_bought(
    app, make, auth, admin, sql
):
    kept, deleted = make.ticket_type(capacity=10), make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(kept, 2), (deleted, 1)], user=user)

    def admin_deletes_the_tier():
        response = app.test_client().delete(f"/api/admin/ticket-types/{deleted.id}", headers=admin)
        assert response.status_code == 204, response.get_json()
        return True

    with meanwhile(app, CHECKOUT_READ, admin_deletes_the_tier) as fired:
        response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))

    assert fired
    assert response.status_code == 201, response.get_json()
    items = response.get_json()["data"]["items"]
    assert [(item["ticketTypeId"], item["quantity"]) for item in items] == [(kept.id, 2)]
    assert sql("SELECT id, sold FROM ticket_type") == [{"id": kept.id, "sold": 2}]
    assert sql("SELECT count(*) AS n FROM ticket") == [{"n": 2}]
    assert violations(app) == []


def test_an_event_cancelled_after_checkout_read_the_cart_sells_nothing(app, make, auth, admin, sql):
    tier = make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(tier, 1)], user=user)

    def admin_cancels_the_event():
        response = app.test_client().post(
            f"/api/admin/events/{tier.event_id}/cancel", headers=admin
        )
        assert response.status_code == 200, response.get_json()
        return True

    with meanwhile(app, CHECKOUT_READ, admin_cancels_the_event) as fired:
        response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))

    assert fired
    problem(response, 409, "not_on_sale")
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert sql("SELECT status FROM cart") == [{"status": "active"}]
    assert violations(app) == []
