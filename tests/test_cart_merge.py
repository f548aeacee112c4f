"""The cart you see is the order you get: a signed-in request that also carries a guest cart's
token merges that cart first, on every cart route and at checkout, exactly once."""

from decimal import Decimal

import pytest

from tests.helpers import problem


@pytest.fixture
def tiers(make):
    event = make.event(title="Harbour Jazz")
    return (
        make.ticket_type(event, name="Standard", price=Decimal("250.00"), capacity=10),
        make.ticket_type(event, name="VIP", price=Decimal("650.00"), capacity=10),
    )


@pytest.fixture
def both(client, tiers, auth, make):
    """A user with 2 Standard in their cart and a guest cart (1 Standard + 1 VIP); the headers
    that carry both."""
    standard, vip = tiers
    user = make.user()
    signed_in = auth.headers(user)
    add(client, standard, 2, signed_in)
    guest = add(client, standard, 1)
    token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    guest_vip = add(client, vip, 1, token).get_json()["data"]["items"][1]
    return {
        "user": user,
        "signed_in": signed_in,
        "token": token,
        "headers": {**signed_in, **token},
        "guest_cart_id": guest.get_json()["data"]["id"],
        "guest_vip_line": guest_vip["id"],
    }


def add(client, tier, quantity, headers=None):
    body = {"ticketTypeId": tier.id, "quantity": quantity}
    return client.post("/api/cart/items", json=body, headers=headers or {})


def lines(cart: dict) -> dict[int, int]:
    return {line["ticketTypeId"]: line["quantity"] for line in cart["items"]}


def assert_guest_cart_merged(sql, both):
    guest = sql(
        "SELECT c.status, c.user_id, c.hold_expires_at, count(ci.id) AS lines FROM cart c"
        " LEFT JOIN cart_item ci ON ci.cart_id = c.id WHERE c.id = :id GROUP BY c.id",
        id=both["guest_cart_id"],
    )
    assert guest == [
        {"status": "merged", "user_id": both["user"].id, "hold_expires_at": None, "lines": 0}
    ]


def test_get_cart_with_both_merges_and_shows_one_cart(client, tiers, both, sql):
    standard, vip = tiers
    response = client.get("/api/cart", headers=both["headers"])
    assert response.status_code == 200
    cart = response.get_json()["data"]
    assert lines(cart) == {standard.id: 3, vip.id: 1}
    assert cart["cartToken"] is None and "X-Cart-Token" not in response.headers
    assert_guest_cart_merged(sql, both)
    # Its seats are held once, by the user's cart: 10 - 3 Standard and 10 - 1 VIP left.
    held = sql(
        "SELECT ci.ticket_type_id, sum(ci.quantity) AS held FROM cart_item ci JOIN cart c"
        " ON c.id = ci.cart_id WHERE c.status = 'active' AND c.hold_expires_at > now()"
        " GROUP BY ci.ticket_type_id ORDER BY ci.ticket_type_id"
    )
    assert held == [
        {"ticket_type_id": standard.id, "held": 3},
        {"ticket_type_id": vip.id, "held": 1},
    ]


def test_merging_twice_changes_nothing(client, both, sql):
    first = client.get("/api/cart", headers=both["headers"]).get_json()["data"]
    state = "SELECT id, status, user_id, hold_expires_at, hold_renewals, updated_at FROM cart"
    before = sql(state + " ORDER BY id"), sql("SELECT * FROM cart_item ORDER BY id")
    again = client.get("/api/cart", headers=both["headers"]).get_json()["data"]
    assert again == first
    assert (sql(state + " ORDER BY id"), sql("SELECT * FROM cart_item ORDER BY id")) == before
    # The guest token is dead on its own.
    problem(client.get("/api/cart", headers=both["token"]), 404, "cart_not_found")


def test_put_with_both_merges_and_finds_a_guest_line_by_its_id(client, tiers, both):
    standard, vip = tiers
    response = client.put(
        f"/api/cart/items/{both['guest_vip_line']}", json={"quantity": 3}, headers=both["headers"]
    )
    assert response.status_code == 200, response.get_json()
    assert lines(response.get_json()["data"]) == {standard.id: 3, vip.id: 3}


def test_delete_line_with_both_merges_then_removes(client, tiers, both, sql):
    standard, _ = tiers
    response = client.delete(f"/api/cart/items/{both['guest_vip_line']}", headers=both["headers"])
    assert response.status_code == 200
    assert lines(response.get_json()["data"]) == {standard.id: 3}
    assert_guest_cart_merged(sql, both)


def test_delete_cart_with_both_empties_both(client, both, sql):
    response = client.delete("/api/cart", headers=both["headers"])
    assert response.status_code == 200
    assert response.get_json()["data"]["items"] == []
    assert_guest_cart_merged(sql, both)
    assert sql("SELECT count(*) AS n FROM cart_item") == [{"n": 0}]


def test_add_with_both_merges_first(client, tiers, both, sql):
    standard, vip = tiers
    response = add(client, vip, 1, both["headers"])
    assert lines(response.get_json()["data"]) == {standard.id: 3, vip.id: 2}
    assert_guest_cart_merged(sql, both)


def test_checkout_with_an_unseen_guest_cart_merges_and_buys_nothing(client, tiers, both, sql):
    standard, vip = tiers
    body = problem(client.post("/api/cart/checkout", headers=both["headers"]), 409, "cart_merged")
    assert "GET /api/cart" in body["detail"]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert_guest_cart_merged(sql, both)
    # The merge is kept: the cart the client now sees is the one the retry buys.
    seen = client.get("/api/cart", headers=both["headers"]).get_json()["data"]
    assert lines(seen) == {standard.id: 3, vip.id: 1}
    order = client.post("/api/cart/checkout", headers=both["headers"])
    assert order.status_code == 201, order.get_json()
    bought = {item["ticketTypeId"]: item["quantity"] for item in order.get_json()["data"]["items"]}
    assert bought == lines(seen)


def test_checkout_buys_exactly_what_the_last_cart_answer_showed(client, tiers, both, sql):
    seen = client.get("/api/cart", headers=both["headers"]).get_json()["data"]
    order = client.post("/api/cart/checkout", headers=both["headers"]).get_json()["data"]
    assert [
        (item["ticketTypeId"], item["quantity"], item["unitPrice"], item["lineTotal"])
        for item in order["items"]
    ] == [
        (line["ticketTypeId"], line["quantity"], line["unitPrice"], line["lineTotal"])
        for line in seen["items"]
    ]
    assert order["total"] == seen["subtotal"]
    assert sql("SELECT status, count(*) AS n FROM cart GROUP BY status ORDER BY status") == [
        {"status": "checked_out", "n": 1},
        {"status": "merged", "n": 1},
    ]


def test_checkout_with_an_empty_guest_cart_just_goes_through(client, tiers, auth, make, sql):
    standard, _ = tiers
    user = make.user()
    add(client, standard, 2, auth.headers(user))
    guest = add(client, standard, 1)
    token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    client.delete("/api/cart", headers=token)
    response = client.post("/api/cart/checkout", headers={**auth.headers(user), **token})
    assert response.status_code == 201
    assert response.get_json()["data"]["items"][0]["quantity"] == 2
    assert sql("SELECT status FROM cart WHERE id = :id", id=guest.get_json()["data"]["id"]) == [
        {"status": "merged"}
    ]
