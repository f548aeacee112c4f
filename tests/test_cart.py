"""Carts: guest and signed-in, lines, holds, warnings, merging, and someone else's lines."""

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import now
from tests.helpers import problem


@pytest.fixture
def tier(make):
    event = make.event(title="Harbour Jazz")
    return make.ticket_type(
        event, name="Standard", price=Decimal("250.00"), capacity=10, max_per_order=6
    )


def add(client, tier, quantity=1, headers=None, **extra):
    body = {"ticketTypeId": tier.id, "quantity": quantity, **extra}
    return client.post("/api/cart/items", json=body, headers=headers or {})


def guest_headers(response) -> dict:
    return {"X-Cart-Token": response.headers["X-Cart-Token"]}


def available(client, tier) -> int:
    detail = client.get(f"/api/events/{tier.event_id}").get_json()["data"]
    return next(t["available"] for t in detail["ticketTypes"] if t["id"] == tier.id)


# --- guest carts -------------------------------------------------------------------------------


def test_first_add_creates_a_guest_cart_with_a_token(client, tier, sql):
    response = add(client, tier, 2)
    assert response.status_code == 201
    cart = response.get_json()["data"]
    token = response.headers["X-Cart-Token"]
    assert cart["cartToken"] == token and len(token) == 43
    assert cart["totalQuantity"] == 2
    assert cart["subtotal"] == {"amount": "500.00", "currency": "DKK"}
    line = cart["items"][0]
    assert line == {
        "id": line["id"],
        "eventId": tier.event_id,
        "ticketTypeId": tier.id,
        "ticketTypeName": "Standard",
        "event": {
            "id": tier.event_id,
            "title": "Harbour Jazz",
            "startsAt": line["event"]["startsAt"],
        },
        "quantity": 2,
        "unitPrice": {"amount": "250.00", "currency": "DKK"},
        "lineTotal": {"amount": "500.00", "currency": "DKK"},
        "available": 10,
    }
    assert cart["warnings"] == []
    assert cart["holdExpiresAt"] is not None
    stored = sql("SELECT guest_token_hash, user_id FROM cart")[0]
    assert stored["user_id"] is None
    assert token.encode() not in bytes(stored["guest_token_hash"])  # only a hash is kept


def test_guest_token_finds_the_same_cart(client, tier):
    first = add(client, tier, 1)
    again = client.get("/api/cart", headers=guest_headers(first))
    assert again.status_code == 200
    assert again.get_json()["data"]["id"] == first.get_json()["data"]["id"]
    assert again.headers["X-Cart-Token"] == first.headers["X-Cart-Token"]


def test_unknown_guest_token_is_404_not_a_new_cart(client, sql):
    body = problem(
        client.get("/api/cart", headers={"X-Cart-Token": "x" * 43}), 404, "cart_not_found"
    )
    assert "X-Cart-Token" in body["detail"]
    problem(client.get("/api/cart", headers={"X-Cart-Token": "short"}), 404, "cart_not_found")
    assert sql("SELECT count(*) AS n FROM cart") == [{"n": 0}]


def test_no_token_and_no_sign_in_shows_an_empty_cart(client):
    cart = client.get("/api/cart").get_json()["data"]
    assert cart["id"] is None and cart["items"] == [] and cart["totalQuantity"] == 0


def test_adding_a_tier_already_in_the_cart_raises_the_line(client, tier):
    first = add(client, tier, 2)
    second = add(client, tier, 3, guest_headers(first)).get_json()["data"]
    assert [(line["ticketTypeId"], line["quantity"]) for line in second["items"]] == [(tier.id, 5)]


# --- by event id ---------------------------------------------------------------------------------


def test_event_id_alone_uses_its_single_tier_on_sale(client, make):
    event = make.event()
    make.ticket_type(event, name="Early bird", sales_end=now() - timedelta(days=1))
    standard = make.ticket_type(event, name="Standard")
    response = client.post("/api/cart/items", json={"eventId": event.id, "quantity": 1})
    assert response.status_code == 201
    assert response.get_json()["data"]["items"][0]["ticketTypeId"] == standard.id


def test_event_id_with_several_tiers_on_sale_asks_for_ticket_type_id(client, make, sql):
    event = make.event()
    make.ticket_type(event)
    make.ticket_type(event)
    body = problem(
        client.post("/api/cart/items", json={"eventId": event.id, "quantity": 1}),
        422,
        "validation_failed",
    )
    assert "ticketTypeId" in body["errors"]
    assert sql("SELECT count(*) AS n FROM cart") == [{"n": 0}]


def test_ticket_type_of_another_event_is_422(client, make, tier):
    other = make.event()
    body = problem(add(client, tier, 1, eventId=other.id), 422, "validation_failed")
    assert "ticketTypeId" in body["errors"]


# --- refusals leave the cart unchanged -------------------------------------------------------


def test_more_than_available_is_409_and_cart_unchanged(client, tier, sql):
    add(client, tier, 5)  # another buyer holds five of the ten
    mine = add(client, tier, 2)
    body = problem(add(client, tier, 4, guest_headers(mine)), 409, "insufficient_availability")
    assert body["available"] == 5
    assert "Only 5" in body["detail"]
    assert sql("SELECT quantity FROM cart_item ORDER BY id") == [{"quantity": 5}, {"quantity": 2}]


def test_more_than_max_per_order_is_422(client, tier, sql):
    body = problem(add(client, tier, 7), 422, "quantity_over_limit")
    assert "at most 6" in body["detail"]
    assert sql("SELECT count(*) AS n FROM cart_item") == [{"n": 0}]


@pytest.mark.parametrize("quantity", [0, -1, 101, "2", 2.5, None, True])
def test_bad_quantities_are_422(client, tier, sql, quantity):
    problem(
        client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": quantity}),
        422,
        "validation_failed",
    )
    assert sql("SELECT count(*) AS n FROM cart") == [{"n": 0}]


def test_unknown_fields_are_refused(client, tier):
    body = problem(add(client, tier, 1, unitPrice="1.00"), 422, "validation_failed")
    assert body["errors"] == {"unitPrice": ["Unknown field."]}


def test_unknown_ticket_type_and_draft_events_are_404(client, make):
    problem(
        client.post("/api/cart/items", json={"ticketTypeId": 999999, "quantity": 1}),
        404,
        "ticket_type_not_found",
    )
    draft = make.ticket_type(make.event(status="draft"))
    problem(add(client, draft, 1), 404, "ticket_type_not_found")
    problem(
        client.post("/api/cart/items", json={"eventId": 999999, "quantity": 1}),
        404,
        "event_not_found",
    )


def test_a_signed_in_add_into_a_cart_refuses_unknown_draft_and_other_events_tiers(
    client, make, auth, sql
):
    """A signed-in add to an existing cart reads the tier in the statement that locks the cart
    (one round trip): the same refusals, and the cart stays as it was."""
    headers = auth.headers(make.user())
    event = make.event()
    tier = make.ticket_type(event)
    assert add(client, tier, 2, headers).status_code == 201
    before = sql("SELECT id, quantity, updated_at FROM cart_item")
    draft = make.ticket_type(make.event(status="draft"))
    other = make.event()
    refused = {
        404: [{"ticketTypeId": 999999}, {"ticketTypeId": draft.id}],
        422: [{"ticketTypeId": tier.id, "eventId": other.id}],
    }
    for status, bodies in refused.items():
        for body in bodies:
            response = client.post("/api/cart/items", json={**body, "quantity": 1}, headers=headers)
            code = "ticket_type_not_found" if status == 404 else "validation_failed"
            problem(response, status, code)
    assert sql("SELECT id, quantity, updated_at FROM cart_item") == before
    # The tier named with its own event is added.
    response = client.post(
        "/api/cart/items",
        json={"ticketTypeId": tier.id, "eventId": event.id, "quantity": 1},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.get_json()["data"]["items"][0]["quantity"] == 3


@pytest.mark.parametrize(
    "setup",
    [
        {"event": {"status": "cancelled"}},
        {"event": {"starts_at": now() - timedelta(hours=1)}},
        {"tier": {"sales_end": now() - timedelta(minutes=1)}},
        {"tier": {"sales_start": now() + timedelta(days=1)}},
    ],
)
def test_tickets_not_on_sale_are_409(client, make, sql, setup):
    event = make.event(**setup.get("event", {}))
    tier = make.ticket_type(event, **setup.get("tier", {}))
    problem(add(client, tier, 1), 409, "not_on_sale")
    assert sql("SELECT count(*) AS n FROM cart_item") == [{"n": 0}]


# --- holds ----------------------------------------------------------------------------------------


def test_cart_lines_hold_seats_from_other_buyers(client, tier):
    mine = add(client, tier, 6)
    assert available(client, tier) == 4
    other = add(client, tier, 5)
    body = problem(other, 409, "insufficient_availability")
    assert body["available"] == 4
    assert mine.get_json()["data"]["items"][0]["available"] == 10  # my own hold counts for me


def test_expired_hold_frees_the_seats_and_is_rechecked_on_the_next_change(client, tier, make, sql):
    mine = add(client, tier, 6)
    sql("UPDATE cart SET hold_expires_at = now() - interval '1 minute'")
    assert available(client, tier) == 10
    view = client.get("/api/cart", headers=guest_headers(mine)).get_json()["data"]
    assert [w["code"] for w in view["warnings"]] == ["hold_expired"]
    other_tier = make.ticket_type(make.event())
    add(client, tier, 6)  # someone else takes six while my hold is lapsed
    changed = add(client, other_tier, 1, guest_headers(mine)).get_json()["data"]
    lines = {line["ticketTypeId"]: line["quantity"] for line in changed["items"]}
    assert lines[tier.id] == 4
    capped = [w for w in changed["warnings"] if w["code"] == "quantity_capped"]
    assert capped and capped[0]["itemId"] == mine.get_json()["data"]["items"][0]["id"]
    assert changed["holdExpiresAt"] > view["holdExpiresAt"]


def test_line_of_a_sold_out_tier_is_removed_after_the_hold_lapsed(client, tier, make, sql):
    mine = add(client, tier, 2)
    sql("UPDATE cart SET hold_expires_at = now() - interval '1 minute'")
    sql("UPDATE ticket_type SET sold = capacity WHERE id = :id", id=tier.id)
    other_tier = make.ticket_type(make.event())
    changed = add(client, other_tier, 1, guest_headers(mine)).get_json()["data"]
    assert [line["ticketTypeId"] for line in changed["items"]] == [other_tier.id]
    assert "sold_out" in [w["code"] for w in changed["warnings"]]


def test_every_line_is_rechecked_after_the_hold_lapsed_also_after_a_removed_one(client, make, sql):
    # Three lines; while the hold is lapsed another cart holds every seat of the first two
    # tiers and all but two of the third. Each line is re-checked on its own: removing the
    # first must not skip the second (which would stay held over capacity).
    event = make.event()
    first, second, third = (make.ticket_type(event, capacity=4, max_per_order=4) for _ in range(3))
    mine = add(client, first, 2)
    headers = guest_headers(mine)
    add(client, second, 2, headers)
    add(client, third, 3, headers)
    sql("UPDATE cart SET hold_expires_at = now() - interval '1 minute'")
    make.cart([(first, 4), (second, 4), (third, 2)])
    other_tier = make.ticket_type(event)

    changed = add(client, other_tier, 1, headers).get_json()["data"]

    assert {line["ticketTypeId"]: line["quantity"] for line in changed["items"]} == {
        third.id: 2,
        other_tier.id: 1,
    }
    assert [w["code"] for w in changed["warnings"]] == ["sold_out", "sold_out", "quantity_capped"]
    held = sql(
        "SELECT i.ticket_type_id, sum(i.quantity) AS held FROM cart_item i"
        " JOIN cart c ON c.id = i.cart_id WHERE c.hold_expires_at > now()"
        " GROUP BY i.ticket_type_id ORDER BY i.ticket_type_id"
    )
    assert held == [
        {"ticket_type_id": first.id, "held": 4},
        {"ticket_type_id": second.id, "held": 4},
        {"ticket_type_id": third.id, "held": 4},
        {"ticket_type_id": other_tier.id, "held": 1},
    ]


def test_changes_renew_the_hold_at_most_the_configured_times(app, client, tier, monkeypatch, sql):
    monkeypatch.setitem(app.config, "CART_HOLD_MAX_RENEWALS", 2)
    first = add(client, tier, 1)
    headers = guest_headers(first)
    for _ in range(2):
        renewed = add(client, tier, 1, headers).get_json()["data"]
        assert renewed["warnings"] == []
    sql("UPDATE cart SET hold_expires_at = hold_expires_at - interval '5 minutes'")
    before = sql("SELECT hold_expires_at FROM cart")[0]["hold_expires_at"]
    third = add(client, tier, 1, headers).get_json()["data"]
    assert [w["code"] for w in third["warnings"]] == ["hold_not_renewed"]
    assert sql("SELECT hold_expires_at, hold_renewals FROM cart")[0] == {
        "hold_expires_at": before,
        "hold_renewals": 2,
    }


def test_price_change_and_sales_end_show_as_warnings(client, tier, sql):
    mine = add(client, tier, 1)
    sql(
        "UPDATE ticket_type SET price = 275, sales_end = now() - interval '1 minute'"
        " WHERE id = :id",
        id=tier.id,
    )
    view = client.get("/api/cart", headers=guest_headers(mine)).get_json()["data"]
    codes = {w["code"]: w for w in view["warnings"]}
    assert codes["price_changed"]["oldPrice"] == {"amount": "250.00", "currency": "DKK"}
    assert codes["price_changed"]["newPrice"] == {"amount": "275.00", "currency": "DKK"}
    assert codes["not_on_sale"]["itemId"] == view["items"][0]["id"]
    assert view["items"][0]["unitPrice"]["amount"] == "275.00"  # carts show current prices


# --- lines: change, remove, empty -----------------------------------------------------------------


def test_put_sets_a_lines_quantity(client, tier):
    mine = add(client, tier, 1)
    line_id = mine.get_json()["data"]["items"][0]["id"]
    response = client.put(
        f"/api/cart/items/{line_id}", json={"quantity": 5}, headers=guest_headers(mine)
    )
    assert response.status_code == 200
    assert response.get_json()["data"]["items"][0]["quantity"] == 5
    problem(
        client.put(f"/api/cart/items/{line_id}", json={"quantity": 0}, headers=guest_headers(mine)),
        422,
        "validation_failed",
    )
    problem(
        client.put(f"/api/cart/items/{line_id}", json={"quantity": 7}, headers=guest_headers(mine)),
        422,
        "quantity_over_limit",
    )


def test_delete_removes_a_line_and_releases_its_seats(client, tier):
    mine = add(client, tier, 3)
    line_id = mine.get_json()["data"]["items"][0]["id"]
    response = client.delete(f"/api/cart/items/{line_id}", headers=guest_headers(mine))
    assert response.status_code == 200
    cart = response.get_json()["data"]
    assert cart["items"] == [] and cart["holdExpiresAt"] is None
    assert available(client, tier) == 10


def test_delete_cart_empties_it_and_releases_holds(client, tier, make, sql):
    mine = add(client, tier, 3)
    add(client, make.ticket_type(make.event()), 1, guest_headers(mine))
    response = client.delete("/api/cart", headers=guest_headers(mine))
    assert response.status_code == 200
    assert response.get_json()["data"]["items"] == []
    assert available(client, tier) == 10
    assert sql("SELECT count(*) AS n FROM cart_item") == [{"n": 0}]
    assert client.delete("/api/cart", headers=guest_headers(mine)).status_code == 200


def test_someone_elses_lines_are_404_on_every_route(client, tier, auth, make, sql):
    theirs = add(client, tier, 2)
    their_line = theirs.get_json()["data"]["items"][0]["id"]
    mine = add(client, tier, 1)
    me = guest_headers(mine)
    user_headers = auth.headers(make.user())
    for headers in (me, user_headers):
        problem(
            client.put(f"/api/cart/items/{their_line}", json={"quantity": 1}, headers=headers),
            404,
            "cart_item_not_found",
        )
        problem(
            client.delete(f"/api/cart/items/{their_line}", headers=headers),
            404,
            "cart_item_not_found",
        )
    add(client, tier, 1, user_headers)
    problem(
        client.put(f"/api/cart/items/{their_line}", json={"quantity": 1}, headers=user_headers),
        404,
        "cart_item_not_found",
    )
    assert sql("SELECT quantity FROM cart_item WHERE id = :id", id=their_line) == [{"quantity": 2}]


# --- signed-in carts and merging -------------------------------------------------------------


def test_signed_in_user_has_one_cart(client, tier, auth, make, sql):
    user = make.user()
    headers = auth.headers(user)
    assert client.get("/api/cart", headers=headers).get_json()["data"]["items"] == []
    first = add(client, tier, 1, headers)
    assert first.status_code == 201 and "X-Cart-Token" not in first.headers
    assert first.get_json()["data"]["cartToken"] is None
    add(client, tier, 1, headers)
    assert sql("SELECT count(*) AS n, min(user_id) AS user_id FROM cart") == [
        {"n": 1, "user_id": user.id}
    ]


def test_expired_token_on_a_cart_route_is_401_not_a_guest_cart(client, tier, auth, make, sql):
    headers = auth.headers(make.user(), expires_delta=timedelta(seconds=-1))
    problem(add(client, tier, 1, headers), 401, "token_expired")
    assert sql("SELECT count(*) AS n FROM cart") == [{"n": 0}]


def test_login_merges_the_guest_cart_capping_quantities(client, tier, auth, make, sql):
    user = make.user(email="fay@example.com")
    add(client, tier, 4, auth.headers(user))
    guest = add(client, tier, 4)
    other_tier = make.ticket_type(make.event())
    add(client, other_tier, 2, guest_headers(guest))
    response = auth.login("fay@example.com", headers=guest_headers(guest))
    assert response.status_code == 200
    cart = response.get_json()["data"]["cart"]
    lines = {line["ticketTypeId"]: line["quantity"] for line in cart["items"]}
    assert lines == {tier.id: 6, other_tier.id: 2}  # 4 + 4 capped at 6 per order
    capped = [w for w in cart["warnings"] if w["code"] == "quantity_capped"]
    assert capped[0]["requested"] == 8 and capped[0]["kept"] == 6
    # The guest token is dead on its own ...
    problem(client.get("/api/cart", headers=guest_headers(guest)), 404, "cart_not_found")
    # ... and logging in again with it changes nothing.
    again = auth.login("fay@example.com", headers=guest_headers(guest)).get_json()["data"]
    assert "cart" not in again
    mine = client.get("/api/cart", headers=auth.headers(user)).get_json()["data"]
    assert {line["ticketTypeId"]: line["quantity"] for line in mine["items"]} == lines
    assert sql("SELECT status, count(*) AS n FROM cart GROUP BY status ORDER BY status") == [
        {"status": "active", "n": 1},
        {"status": "merged", "n": 1},
    ]


def test_guest_cart_becomes_the_users_when_they_have_none(client, tier, auth, make, sql):
    user = make.user(email="gus@example.com")
    guest = add(client, tier, 2)
    guest_cart_id = guest.get_json()["data"]["id"]
    auth.login("gus@example.com", headers=guest_headers(guest))
    mine = client.get("/api/cart", headers=auth.headers(user)).get_json()["data"]
    assert mine["id"] == guest_cart_id and mine["totalQuantity"] == 2
    problem(client.get("/api/cart", headers=guest_headers(guest)), 404, "cart_not_found")


def test_cart_call_with_both_token_and_jwt_merges(client, tier, auth, make):
    user = make.user()
    guest = add(client, tier, 2)
    headers = {**auth.headers(user), **guest_headers(guest)}
    response = add(client, tier, 1, headers)
    assert response.get_json()["data"]["items"][0]["quantity"] == 3
    again = add(client, tier, 1, headers)  # repeating with the stale token is harmless
    assert again.get_json()["data"]["items"][0]["quantity"] == 4


def test_signup_with_a_guest_cart_keeps_it(client, tier, auth):
    guest = add(client, tier, 2)
    response = client.post(
        "/api/auth/signup",
        json={"email": "hal@example.com", "password": "Correct-Horse-9", "name": "Hal"},
        headers=guest_headers(guest),
    )
    assert response.status_code == 201
    assert response.get_json()["data"]["cart"]["totalQuantity"] == 2
