"""Review: what add-to-cart writes and answers, row by row, as on main: a guest's first add
(the cart and its first line), a refused first add (nothing written, no token handed out), a
signed-in first add, raising a line, and the merge of a guest cart at sign-in."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tests.factories import DEFAULT_PASSWORD, now

HOME = {"REMOTE_ADDR": "203.0.113.9"}


def add(client, body, headers=None, environ=HOME):
    return client.post("/api/cart/items", json=body, headers=headers or {}, environ_base=environ)


def cart_rows(sql):
    return sql(
        "SELECT c.*, now() AS now_, c.hold_expires_at - c.hold_started_at AS hold_for"
        " FROM cart c ORDER BY c.id"
    )


def test_a_guests_first_add_writes_the_cart_and_line_as_on_main(client, make, sql):
    tier = make.ticket_type(capacity=5, max_per_order=4)
    response = add(client, {"ticketTypeId": tier.id, "quantity": 2})
    assert response.status_code == 201
    token = response.headers["X-Cart-Token"]
    data = response.get_json()["data"]
    assert data["cartToken"] == token
    [cart] = cart_rows(sql)
    assert cart["id"] == data["id"]
    assert cart["user_id"] is None
    assert bytes(cart["guest_token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert (cart["status"], cart["hold_renewals"], cart["client_address"]) == (
        "active",
        0,
        "203.0.113.9",
    )
    # one clock for the whole change: the transaction's
    assert cart["created_at"] == cart["updated_at"] == cart["hold_started_at"] == cart["now_"]
    assert cart["hold_for"] == timedelta(minutes=15)
    [line] = sql("SELECT *, now() AS now_ FROM cart_item")
    assert (line["cart_id"], line["ticket_type_id"], line["event_id"], line["quantity"]) == (
        cart["id"],
        tier.id,
        tier.event_id,
        2,
    )
    assert line["created_at"] == line["updated_at"] == line["now_"]
    assert str(line["unit_price"]) == "250.00"
    assert data["items"][0]["id"] == line["id"]
    assert data["holdExpiresAt"] == cart["hold_expires_at"].isoformat()
    assert data["updatedAt"] == cart["updated_at"].isoformat()
    # the token finds the same cart, and shows it the same way
    shown = client.get("/api/cart", headers={"X-Cart-Token": token}, environ_base=HOME)
    assert shown.status_code == 200
    assert shown.get_json()["data"] == data
    # a second add raises the line, same cart, hold renewed once
    again = add(client, {"ticketTypeId": tier.id, "quantity": 1}, {"X-Cart-Token": token})
    assert again.status_code == 201
    assert "X-Cart-Token" in again.headers
    assert [(r["id"], r["hold_renewals"]) for r in cart_rows(sql)] == [(cart["id"], 1)]
    assert sql("SELECT quantity FROM cart_item") == [{"quantity": 3}]


@pytest.fixture
def refusals(make):
    event = make.event()
    sold_out = make.ticket_type(event, capacity=2, sold=2)
    small = make.ticket_type(event, capacity=3, max_per_order=2)
    one_left = make.ticket_type(event, capacity=1, max_per_order=10)
    later = make.ticket_type(event, sales_start=now() + timedelta(days=1))
    draft_tier = make.ticket_type(make.event(status="draft"))
    cancelled_tier = make.ticket_type(make.event(status="cancelled"))
    two_tiers = make.event()
    make.ticket_type(two_tiers)
    make.ticket_type(two_tiers)
    past_tier = make.ticket_type(make.event(starts_at=now() - timedelta(hours=1)))
    return {
        "sold_out": {"ticketTypeId": sold_out.id, "quantity": 1},
        "more_than_left": {"ticketTypeId": one_left.id, "quantity": 2},
        "over_max_per_order": {"ticketTypeId": small.id, "quantity": 3},
        "not_on_sale_yet": {"ticketTypeId": later.id, "quantity": 1},
        "draft_event": {"ticketTypeId": draft_tier.id, "quantity": 1},
        "cancelled_event": {"ticketTypeId": cancelled_tier.id, "quantity": 1},
        "past_event": {"ticketTypeId": past_tier.id, "quantity": 1},
        "unknown_tier": {"ticketTypeId": 999999, "quantity": 1},
        "event_with_two_tiers": {"eventId": two_tiers.id, "quantity": 1},
        "quantity_zero": {"ticketTypeId": small.id, "quantity": 0},
        "quantity_huge": {"ticketTypeId": small.id, "quantity": 10**6},
        "neither_id": {"quantity": 1},
        "tier_of_other_event": {"ticketTypeId": small.id, "eventId": two_tiers.id, "quantity": 1},
    }


# Recorded on main (9fa8bf4): (status, code) of each refused first add.
REFUSED_FIRST_ADDS = {
    "sold_out": (409, "insufficient_availability"),
    "more_than_left": (409, "insufficient_availability"),
    "over_max_per_order": (422, "quantity_over_limit"),
    "not_on_sale_yet": (409, "not_on_sale"),
    "draft_event": (404, "ticket_type_not_found"),
    "cancelled_event": (409, "not_on_sale"),
    "past_event": (409, "not_on_sale"),
    "unknown_tier": (404, "ticket_type_not_found"),
    "event_with_two_tiers": (422, "validation_failed"),
    "quantity_zero": (422, "validation_failed"),
    "quantity_huge": (422, "validation_failed"),
    "neither_id": (422, "validation_failed"),
    "tier_of_other_event": (422, "validation_failed"),
}


@pytest.mark.parametrize("who", ["guest", "signed_in"])
@pytest.mark.parametrize("case", list(REFUSED_FIRST_ADDS))
def test_a_refused_first_add_writes_nothing_and_hands_out_no_token(
    client, sql, refusals, auth, make, who, case
):
    headers = auth.headers(make.user()) if who == "signed_in" else {}
    response = add(client, refusals[case], headers)
    body = response.get_json()
    assert response.mimetype == "application/problem+json", (case, body)
    assert (case, response.status_code, body["code"]) == (case, *REFUSED_FIRST_ADDS[case])
    assert "X-Cart-Token" not in response.headers
    assert sql("SELECT count(*) AS n FROM cart_item") == [{"n": 0}]
    assert sql("SELECT count(*) AS n FROM cart WHERE user_id IS NULL") == [{"n": 0}]


def test_a_guests_first_add_past_the_address_cap_writes_nothing(client, make, sql):
    tier = make.ticket_type(capacity=100, max_per_order=10)
    for quantity in (10, 9):
        assert add(client, {"ticketTypeId": tier.id, "quantity": quantity}).status_code == 201
    refused = add(client, {"ticketTypeId": tier.id, "quantity": 2})
    assert (refused.status_code, refused.get_json()["code"]) == (409, "address_hold_limit")
    assert "X-Cart-Token" not in refused.headers
    assert sql("SELECT count(*) AS n FROM cart") == [{"n": 2}]
    # from another address it goes through
    other = add(
        client, {"ticketTypeId": tier.id, "quantity": 2}, environ={"REMOTE_ADDR": "10.9.9.9"}
    )
    assert other.status_code == 201


def test_a_guests_first_add_by_event_id_and_a_lapsed_address_hold(client, make, sql):
    event = make.event()
    tier = make.ticket_type(event, capacity=30)
    lapsed = make.cart([(tier, 10)], hold_minutes=-1)
    sql("UPDATE cart SET client_address = '203.0.113.9' WHERE id = :id", id=lapsed.id)
    response = add(client, {"eventId": event.id, "quantity": 10})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["items"][0]["available"] == 30
    assert response.get_json()["data"]["items"][0]["ticketTypeId"] == tier.id


def test_a_signed_in_first_add_writes_the_users_cart(client, make, sql, auth):
    tier = make.ticket_type(capacity=5)
    user = make.user()
    response = add(client, {"ticketTypeId": tier.id, "quantity": 1}, auth.headers(user))
    assert response.status_code == 201
    assert "X-Cart-Token" not in response.headers
    assert response.get_json()["data"]["cartToken"] is None
    [cart] = cart_rows(sql)
    assert (cart["user_id"], cart["guest_token_hash"], cart["status"]) == (
        user.id,
        None,
        "active",
    )
    assert cart["created_at"] == cart["updated_at"] == cart["hold_started_at"] == cart["now_"]
    assert cart["hold_for"] == timedelta(minutes=15)


def test_a_guest_cart_made_by_the_new_insert_merges_at_sign_in(client, make, sql):
    tiers = [make.ticket_type(capacity=10, max_per_order=4) for _ in range(2)]
    user = make.user()
    guest = add(client, {"ticketTypeId": tiers[0].id, "quantity": 3})
    token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    assert add(client, {"ticketTypeId": tiers[1].id, "quantity": 2}, token).status_code == 201
    signed = client.post(
        "/api/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}, headers=token
    )
    assert signed.status_code == 200
    cart = signed.get_json()["data"]["cart"]
    assert sorted((i["ticketTypeId"], i["quantity"]) for i in cart["items"]) == [
        (tiers[0].id, 3),
        (tiers[1].id, 2),
    ]
    rows = cart_rows(sql)
    assert [(r["user_id"], r["status"]) for r in rows] == [(user.id, "active")]
    assert client.get("/api/cart", headers=token, environ_base=HOME).status_code == 404
    refused = add(client, {"ticketTypeId": tiers[0].id, "quantity": 1}, token)
    assert refused.status_code == 404
    assert sql("SELECT count(*) AS n FROM cart") == [{"n": 1}]


@pytest.mark.parametrize("case", list(REFUSED_FIRST_ADDS))
def test_a_refused_add_to_a_signed_in_users_open_cart_changes_nothing(
    client, sql, refusals, auth, make, case
):
    """The same refusals when the user already has an open cart (a signed-in add then starts
    with that cart), and the cart is left exactly as it was."""
    user = make.user()
    headers = auth.headers(user)
    first = add(client, {"ticketTypeId": make.ticket_type(capacity=9).id, "quantity": 2}, headers)
    assert first.status_code == 201
    before = sql("SELECT * FROM cart ORDER BY id"), sql("SELECT * FROM cart_item ORDER BY id")
    response = add(client, refusals[case], headers)
    body = response.get_json()
    assert response.mimetype == "application/problem+json", (case, body)
    assert (case, response.status_code, body["code"]) == (case, *REFUSED_FIRST_ADDS[case])
    assert (sql("SELECT * FROM cart ORDER BY id"), sql("SELECT * FROM cart_item ORDER BY id")) == (
        before
    )


def test_adds_to_a_signed_in_users_open_cart_answer_as_a_first_add_would(client, sql, auth, make):
    """With an open cart: an add by ticketTypeId, by eventId, with both, a raise of a line, an
    add after the hold lapsed, an add after checkout (a new cart), all as on main."""
    event = make.event()
    tier = make.ticket_type(event, capacity=6, max_per_order=4)
    other = make.ticket_type(make.event(), capacity=6)
    user = make.user()
    headers = auth.headers(user)
    steps = [
        {"ticketTypeId": other.id, "quantity": 1},
        {"ticketTypeId": tier.id, "quantity": 1},
        {"eventId": event.id, "ticketTypeId": tier.id, "quantity": 1},
        {"ticketTypeId": tier.id, "quantity": 2},
    ]
    answers = [add(client, body, headers) for body in steps]
    assert [a.status_code for a in answers] == [201, 201, 201, 201]
    lines = {i["ticketTypeId"]: i["quantity"] for i in answers[-1].get_json()["data"]["items"]}
    assert lines == {other.id: 1, tier.id: 4}
    over = add(client, {"ticketTypeId": tier.id, "quantity": 1}, headers)
    assert (over.status_code, over.get_json()["code"]) == (422, "quantity_over_limit")
    # the hold lapses and someone else takes the seats meanwhile
    sql(
        "UPDATE cart SET hold_expires_at = now() - interval '1 minute' WHERE user_id = :u",
        u=user.id,
    )
    make.cart([(tier, 4)])
    lapsed = add(client, {"ticketTypeId": other.id, "quantity": 1}, headers)
    assert lapsed.status_code == 201
    data = lapsed.get_json()["data"]
    assert {i["ticketTypeId"]: i["quantity"] for i in data["items"]} == {other.id: 2, tier.id: 2}
    [warning] = data["warnings"]
    assert (warning["code"], warning["requested"], warning["kept"]) == ("quantity_capped", 4, 2)
    assert client.post("/api/cart/checkout", headers=headers).status_code == 201
    after = add(client, {"ticketTypeId": other.id, "quantity": 1}, headers)
    assert after.status_code == 201
    assert [(i["ticketTypeId"], i["quantity"]) for i in after.get_json()["data"]["items"]] == [
        (other.id, 1)
    ]
    assert sql("SELECT status, count(*) AS n FROM cart GROUP BY status ORDER BY status") == [
        {"status": "active", "n": 2},
        {"status": "checked_out", "n": 1},
    ]
