"""Attacks on the add-to-cart fast path (one-statement hold + line write,
the address's holds read with the lines) and checkout's reordered checks: seats, prices and
holds in the database must be what the plain rules say."""

from decimal import Decimal

from tests.helpers import HOME, add, held_by_address, problem, token

ELSEWHERE = {"REMOTE_ADDR": "198.51.100.20"}


def test_a_guest_cart_moving_to_a_new_address_counts_against_that_addresss_cap(client, make, sql):
    tier = make.ticket_type(make.event(), capacity=500, max_per_order=20)
    travelling = add(client, tier, 5, environ=ELSEWHERE)
    assert travelling.status_code == 201
    assert add(client, tier, 14).status_code == 201  # another cart of HOME
    # 14 elsewhere at HOME + this cart's 5 + 2 = 21 > 20
    problem(add(client, tier, 2, token(travelling)), 409, "address_hold_limit")
    assert held_by_address(sql, HOME["REMOTE_ADDR"]) == 14
    assert add(client, tier, 1, token(travelling)).status_code == 201
    assert held_by_address(sql, HOME["REMOTE_ADDR"]) == 20
    assert held_by_address(sql, ELSEWHERE["REMOTE_ADDR"]) == 0
    problem(add(client, tier, 1), 409, "address_hold_limit")  # a new cart at HOME


def test_an_add_after_a_lapsed_hold_was_capped_stores_the_rechecked_line_plus_the_add(
    client, make, auth, sql
):
    tier = make.ticket_type(make.event(), capacity=10, max_per_order=10)
    user = make.user()
    make.cart([(tier, 6)], user=user, hold_minutes=-1)
    make.cart([(tier, 6)], user=make.user())  # a live hold of another buyer: 4 left for us
    response = add(client, tier, 1, auth.headers(user))
    # The lapsed line is capped to 4 and 4 + 1 is over what is left: refused, nothing written.
    problem(response, 409)
    rows = sql(
        "SELECT ci.quantity FROM cart_item ci JOIN cart c ON c.id = ci.cart_id"
        " WHERE c.user_id = :u",
        u=user.id,
    )
    assert rows == [{"quantity": 6}]  # the refused request changed nothing
    sql(
        "UPDATE cart_item SET quantity = 3 WHERE cart_id IN"
        " (SELECT id FROM cart WHERE user_id = :u)",
        u=user.id,
    )
    response = add(client, tier, 1, auth.headers(user))
    assert response.status_code == 201, response.get_json()
    assert [i["quantity"] for i in response.get_json()["data"]["items"]] == [4]
    rows = sql(
        "SELECT ci.quantity, c.hold_expires_at > now() AS live FROM cart_item ci"
        " JOIN cart c ON c.id = ci.cart_id WHERE c.user_id = :u",
        u=user.id,
    )
    assert rows == [{"quantity": 4, "live": True}]


def test_raising_a_line_after_a_price_change_stores_and_shows_the_new_price(
    client, make, auth, sql
):
    tier = make.ticket_type(make.event(), price=Decimal("100.00"), capacity=50)
    headers = auth.headers(make.user())
    assert add(client, tier, 2, headers).status_code == 201
    sql("UPDATE ticket_type SET price = 120.50 WHERE id = :id", id=tier.id)
    response = add(client, tier, 1, headers)
    assert response.status_code == 201
    item = response.get_json()["data"]["items"][0]
    assert item["quantity"] == 3 and item["unitPrice"]["amount"] == "120.50"
    assert sql("SELECT quantity, unit_price FROM cart_item") == [
        {"quantity": 3, "unit_price": Decimal("120.50")}
    ]
    placed = client.post("/api/cart/checkout", headers=headers)
    assert placed.status_code == 201
    assert placed.get_json()["data"]["total"]["amount"] == "361.50"
    assert sql("SELECT sold FROM ticket_type WHERE id = :id", id=tier.id) == [{"sold": 3}]


def test_an_add_that_merges_a_guest_cart_with_the_same_tier_keeps_one_line(client, make, auth, sql):
    tier = make.ticket_type(make.event(), capacity=50, max_per_order=10)
    other = make.ticket_type(make.event(), capacity=50, max_per_order=10)
    headers = auth.headers(make.user())
    assert add(client, tier, 2, headers).status_code == 201
    guest = add(client, tier, 3)
    assert add(client, other, 1, token(guest)).status_code == 201
    response = add(client, tier, 1, {**headers, **token(guest)})
    assert response.status_code == 201, response.get_json()
    quantities = {i["ticketTypeId"]: i["quantity"] for i in response.get_json()["data"]["items"]}
    assert quantities == {tier.id: 6, other.id: 1}
    rows = sql(
        "SELECT c.status, c.user_id IS NULL AS guest, ci.ticket_type_id, ci.quantity"
        " FROM cart c LEFT JOIN cart_item ci ON ci.cart_id = c.id ORDER BY c.id, ci.id"
    )
    active = [r for r in rows if r["status"] == "active"]
    assert {(r["ticket_type_id"], r["quantity"]) for r in active} == {(tier.id, 6), (other.id, 1)}
    assert all(not r["guest"] for r in active)
    placed = client.post("/api/cart/checkout", headers=headers)
    assert placed.status_code == 201
    assert sql("SELECT sum(sold) AS n FROM ticket_type") == [{"n": 7}]


def test_a_guest_cart_handed_to_the_user_then_added_to_is_the_users(client, make, auth, sql):
    """No user cart yet: the guest cart becomes the user's (its user_id changes) in the same
    request as the add's one-statement write."""
    tier = make.ticket_type(make.event(), capacity=50, max_per_order=10)
    user = make.user()
    guest = add(client, tier, 3)
    response = add(client, tier, 2, {**auth.headers(user), **token(guest)})
    assert response.status_code == 201, response.get_json()
    assert sql(
        "SELECT c.user_id, ci.quantity FROM cart c JOIN cart_item ci ON ci.cart_id = c.id"
    ) == [{"user_id": user.id, "quantity": 5}]
    assert client.post("/api/cart/checkout", headers=auth.headers(user)).status_code == 201
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 5}]


def test_a_short_line_is_refused_as_short_and_a_fitting_one_over_the_limit_as_over(
    client, make, auth, sql
):
    """Checkout's reordered checks: a tier with seats still applies maxPerCustomer."""
    tier = make.ticket_type(make.event(), capacity=10, max_per_customer=4)
    user = make.user()
    headers = auth.headers(user)
    assert add(client, tier, 3, headers).status_code == 201
    assert client.post("/api/cart/checkout", headers=headers).status_code == 201
    assert add(client, tier, 2, headers).status_code == 201
    response = client.post("/api/cart/checkout", headers=headers)
    assert response.status_code in (409, 422)
    assert "per customer" in response.get_json()["detail"].lower() or response.get_json()[
        "code"
    ].startswith("max_per_customer")
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 3}]


def test_a_tier_full_only_of_lapsed_holds_still_sells_at_checkout(client, make, auth, sql):
    """The sold-out 409 must judge live holds only: another cart's lapsed hold frees its seats."""
    tier = make.ticket_type(make.event(), capacity=3, max_per_customer=4)
    other = make.user()
    make.cart([(tier, 3)], user=other, hold_minutes=-1)  # lapsed: holds nothing
    buyer = make.user()
    make.cart([(tier, 2)], user=buyer, hold_minutes=-1)
    placed = client.post("/api/cart/checkout", headers=auth.headers(buyer))
    assert placed.status_code == 201, placed.get_json()
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 2}]


def test_a_seat_freed_by_a_cancelled_order_sells_again(client, make, auth, sql):
    tier = make.ticket_type(make.event(), capacity=2, max_per_customer=4)
    first = make.user()
    assert add(client, tier, 2, auth.headers(first)).status_code == 201
    order = client.post("/api/cart/checkout", headers=auth.headers(first)).get_json()["data"]
    second = make.user()
    make.cart([(tier, 1)], user=second, hold_minutes=-1)
    problem(client.post("/api/cart/checkout", headers=auth.headers(second)), 409)
    cancelled = client.post(f"/api/orders/{order['id']}/cancel", headers=auth.headers(first))
    assert cancelled.status_code == 200, cancelled.get_json()
    placed = client.post("/api/cart/checkout", headers=auth.headers(second))
    assert placed.status_code == 201, placed.get_json()
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 1}]


def test_a_deleted_user_with_a_valid_token_cannot_buy(client, make, auth, sql):
    tier = make.ticket_type(make.event(), capacity=5)
    user = make.user()
    headers = auth.headers(user)
    assert add(client, tier, 1, headers).status_code == 201
    sql("DELETE FROM cart_item")
    sql("DELETE FROM cart")
    sql("DELETE FROM app_user WHERE id = :id", id=user.id)
    assert add(client, tier, 1, headers).status_code == 401
    assert client.post("/api/cart/checkout", headers=headers).status_code == 401
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
