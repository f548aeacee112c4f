"""Review attacks on the cart's refusals and on whose cart a request reaches: every refused
change is a problem+json 4xx that leaves every cart and line exactly as they were (the hold, its
renewals, the cart's version and address, no new cart), for a guest's new and existing cart and
a signed-in customer's; and no token reaches a cart that is no longer the guest's."""

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import now
from tests.helpers import problem

HOME = {"REMOTE_ADDR": "203.0.113.60"}
AWAY = {"REMOTE_ADDR": "198.51.100.61"}


def snapshot(sql) -> list:
    carts = sql(
        "SELECT id, user_id, guest_token_hash, status, hold_started_at, hold_expires_at,"
        " hold_renewals, client_address, updated_at FROM cart ORDER BY id"
    )
    lines = sql(
        "SELECT id, cart_id, ticket_type_id, quantity, unit_price, updated_at FROM cart_item"
        " ORDER BY id"
    )
    tiers = sql("SELECT id, sold FROM ticket_type ORDER BY id")
    return [carts, lines, tiers]


def post(client, body, headers=None, environ=HOME):
    return client.post("/api/cart/items", json=body, headers=headers or {}, environ_base=environ)


@pytest.fixture
def world(make, sql):
    """A tier to refuse things about, and the shapes of refusal each needs."""
    event = make.event(title="Refusals")
    w = {"event": event}
    w["tier"] = make.ticket_type(event, name="Std", capacity=10, max_per_order=6)
    w["other_tier"] = make.ticket_type(event, name="Other", capacity=10, max_per_order=6)
    w["full"] = make.ticket_type(capacity=3, sold=3)
    w["later"] = make.ticket_type(sales_start=now() + timedelta(days=1))
    w["ended"] = make.ticket_type(sales_end=now() - timedelta(minutes=1))
    cancelled = make.event(status="cancelled")
    w["cancelled"] = make.ticket_type(cancelled)
    started = make.event(starts_at=now() - timedelta(minutes=5))
    w["started"] = make.ticket_type(started)
    draft = make.event(status="draft")
    w["draft"] = make.ticket_type(draft)
    euro = make.event(currency="EUR")
    w["euro"] = make.ticket_type(euro, currency="EUR")
    none_on_sale = make.event()
    make.ticket_type(none_on_sale, sales_end=now() - timedelta(days=1))
    w["none_on_sale"] = none_on_sale
    w["two_tiers"] = event
    return w


REFUSALS = {
    # name: (body builder, status, code)
    "insufficient": (lambda w: {"ticketTypeId": w["full"].id, "quantity": 1}, 409,
                     "insufficient_availability"),
    "over_max_per_order": (lambda w: {"ticketTypeId": w["tier"].id, "quantity": 7}, 422,
                           "quantity_over_limit"),
    "sales_not_started": (lambda w: {"ticketTypeId": w["later"].id, "quantity": 1}, 409,
                          "not_on_sale"),
    "sales_ended": (lambda w: {"ticketTypeId": w["ended"].id, "quantity": 1}, 409, "not_on_sale"),
    "event_cancelled": (lambda w: {"ticketTypeId": w["cancelled"].id, "quantity": 1}, 409,
                        "not_on_sale"),
    "event_started": (lambda w: {"ticketTypeId": w["started"].id, "quantity": 1}, 409,
                      "not_on_sale"),
    "draft_tier": (lambda w: {"ticketTypeId": w["draft"].id, "quantity": 1}, 404, None),
    "unknown_tier": (lambda w: {"ticketTypeId": 2_000_000_000, "quantity": 1}, 404, None),
    "unknown_event": (lambda w: {"eventId": 2_000_000_000, "quantity": 1}, 404, None),
    "tier_of_another_event": (
        lambda w: {"ticketTypeId": w["full"].id, "eventId": w["event"].id, "quantity": 1}, 422,
        None),
    "event_with_two_tiers": (lambda w: {"eventId": w["two_tiers"].id, "quantity": 1}, 422, None),
    "event_none_on_sale": (lambda w: {"eventId": w["none_on_sale"].id, "quantity": 1}, 409,
                           "not_on_sale"),
    "quantity_zero": (lambda w: {"ticketTypeId": w["tier"].id, "quantity": 0}, 422, None),
    "quantity_string": (lambda w: {"ticketTypeId": w["tier"].id, "quantity": "1"}, 422, None),
    "unknown_field": (lambda w: {"ticketTypeId": w["tier"].id, "quantity": 1, "price": "1"},
                      422, None),
}  # fmt: skip


def existing_cart(client, sql, world, who, auth, make):
    """Headers of a cart of `who` holding 2 of `tier`, its hold renewed once already."""
    if who == "new_guest":
        return {}
    if who == "guest":
        first = post(client, {"ticketTypeId": world["tier"].id, "quantity": 1})
        headers = {"X-Cart-Token": first.headers["X-Cart-Token"]}
    elif who == "new_user":
        return auth.headers(make.user())
    else:
        headers = auth.headers(make.user())
        post(client, {"ticketTypeId": world["tier"].id, "quantity": 1}, headers)
    post(client, {"ticketTypeId": world["tier"].id, "quantity": 1}, headers)
    return headers


@pytest.mark.parametrize("who", ["new_guest", "guest", "new_user", "user"])
@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_refused_add_changes_nothing_anywhere(client, sql, world, auth, make, who, refusal):
    build, status, code = REFUSALS[refusal]
    headers = existing_cart(client, sql, world, who, auth, make)
    before = snapshot(sql)
    # From another address: a refused add must not move the guest cart's address either.
    response = post(client, build(world), headers, environ=AWAY)
    problem(response, status, code)
    assert "X-Cart-Token" not in response.headers
    assert snapshot(sql) == before


@pytest.mark.parametrize("who", ["guest", "user"])
def test_refusals_that_need_a_cart_change_nothing(
    client, sql, world, auth, make, who, monkeypatch, app
):
    headers = existing_cart(client, sql, world, who, auth, make)
    tier = world["tier"]
    # The line limit (a cart of 1 line, limit 1), a currency mismatch, a line over 100 in all,
    # and the address cap (guest only), each from another address.
    monkeypatch.setitem(app.config, "CART_MAX_LINES", 1)
    before = snapshot(sql)
    problem(post(client, {"ticketTypeId": world["other_tier"].id, "quantity": 1}, headers,
                 environ=AWAY), 409, "cart_line_limit")  # fmt: skip
    monkeypatch.setitem(app.config, "CART_MAX_LINES", 20)
    problem(post(client, {"ticketTypeId": world["euro"].id, "quantity": 1}, headers,
                 environ=AWAY), 409, "currency_mismatch")  # fmt: skip
    problem(post(client, {"ticketTypeId": tier.id, "quantity": 5}, headers, environ=AWAY), 422,
            "quantity_over_limit")  # fmt: skip
    assert snapshot(sql) == before
    if who == "guest":
        monkeypatch.setitem(app.config, "CART_MAX_SEATS_PER_ADDRESS", 3)
        problem(post(client, {"ticketTypeId": tier.id, "quantity": 2}, headers), 409,
                "address_hold_limit")  # fmt: skip
        assert snapshot(sql) == before


@pytest.mark.parametrize("route", ["put", "delete"])
def test_a_refused_line_change_changes_nothing(client, sql, world, auth, make, route):
    headers = auth.headers(make.user())
    mine = post(client, {"ticketTypeId": world["tier"].id, "quantity": 2}, headers)
    line = mine.get_json()["data"]["items"][0]["id"]
    stranger = post(client, {"ticketTypeId": world["tier"].id, "quantity": 1}, environ=AWAY)
    theirs = {"X-Cart-Token": stranger.headers["X-Cart-Token"]}
    before = snapshot(sql)
    for other in (theirs, auth.headers(make.user())):
        call = getattr(client, route)
        kwargs = {"json": {"quantity": 1}} if route == "put" else {}
        problem(call(f"/api/cart/items/{line}", headers=other, **kwargs), 404)
    if route == "put":
        problem(client.put(f"/api/cart/items/{line}", json={"quantity": 7}, headers=headers), 422)
        sql("UPDATE ticket_type SET sold = 8 WHERE id = :id", id=world["tier"].id)
        before = snapshot(sql)
        problem(client.put(f"/api/cart/items/{line}", json={"quantity": 3}, headers=headers), 409)
    assert snapshot(sql) == before


def test_a_handed_over_guest_token_reaches_nothing(client, sql, world, auth, make):
    """A guest cart that became the user's at sign-in: its old token, used anonymously, must
    neither show nor change the user's cart, and must not start a new cart in its place."""
    guest = post(client, {"ticketTypeId": world["tier"].id, "quantity": 2})
    token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    line = guest.get_json()["data"]["items"][0]["id"]
    user = make.user()
    login = auth.login(user.email, headers=token)
    assert login.status_code == 200
    assert sql("SELECT user_id FROM cart") == [{"user_id": user.id}]
    before = snapshot(sql)
    problem(client.get("/api/cart", headers=token), 404)
    problem(post(client, {"ticketTypeId": world["tier"].id, "quantity": 1}, token), 404)
    problem(client.put(f"/api/cart/items/{line}", json={"quantity": 1}, headers=token), 404)
    problem(client.delete(f"/api/cart/items/{line}", headers=token), 404)
    problem(client.delete("/api/cart", headers=token), 404)
    assert snapshot(sql) == before
    # Another signed-in user sending it gets their own cart, untouched by it.
    stranger = auth.headers(make.user())
    shown = client.get("/api/cart", headers={**stranger, **token}).get_json()["data"]
    assert shown["items"] == [] and shown["id"] is None
    added = post(client, {"ticketTypeId": world["tier"].id, "quantity": 1}, {**stranger, **token})
    assert added.status_code == 201
    assert [i["quantity"] for i in added.get_json()["data"]["items"]] == [1]
    assert sql("SELECT quantity FROM cart_item WHERE id = :id", id=line) == [{"quantity": 2}]


def test_a_merged_guest_token_reaches_nothing(client, sql, world, auth, make):
    user = make.user()
    headers = auth.headers(user)
    post(client, {"ticketTypeId": world["other_tier"].id, "quantity": 1}, headers)
    guest = post(client, {"ticketTypeId": world["tier"].id, "quantity": 2})
    token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    assert client.get("/api/cart", headers={**headers, **token}).status_code == 200
    before = snapshot(sql)
    problem(client.get("/api/cart", headers=token), 404)
    problem(post(client, {"ticketTypeId": world["tier"].id, "quantity": 1}, token), 404)
    assert snapshot(sql) == before
    stranger = auth.headers(make.user())
    assert client.get("/api/cart", headers={**stranger, **token}).get_json()["data"]["id"] is None


def test_malformed_tokens_are_404_or_a_new_cart_never_a_500(client, world):
    for value in ["x", "A" * 43, "A" * 42 + "!", "A" * 4000, "%00" * 20]:
        response = client.get("/api/cart", headers={"X-Cart-Token": value})
        problem(response, 404)
        response = post(client, {"ticketTypeId": world["tier"].id, "quantity": 1},
                        {"X-Cart-Token": value})  # fmt: skip
        problem(response, 404)


def test_a_guest_cart_and_a_users_cart_with_the_same_tier_cannot_see_each_other(
    client, sql, world, auth, make
):
    tier = world["tier"]
    guest = post(client, {"ticketTypeId": tier.id, "quantity": 2})
    token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    headers = auth.headers(make.user())
    mine = post(client, {"ticketTypeId": tier.id, "quantity": 3}, headers).get_json()["data"]
    theirs = client.get("/api/cart", headers=token).get_json()["data"]
    assert mine["id"] != theirs["id"]
    assert [i["quantity"] for i in mine["items"]] == [3]
    assert [i["quantity"] for i in theirs["items"]] == [2]
    assert theirs["items"][0]["available"] == 7 and mine["items"][0]["available"] == 8
    assert Decimal(mine["subtotal"]["amount"]) == 3 * Decimal("250.00")


@pytest.mark.parametrize("route", ["get", "add", "put", "delete_line", "empty"])
def test_a_revoked_expired_or_refresh_token_reaches_no_cart(client, sql, world, auth, make, route):
    """After logout the access token is revoked: every cart route is a 401 and the cart and its
    holds stay as they were (never a fallback to a guest cart, never a new cart). The same for
    an expired token, a refresh token sent as an access token, and a deleted user's token."""
    from datetime import timedelta as td

    user = make.user()
    signup = auth.login(user.email).get_json()["data"]
    access = {"Authorization": f"Bearer {signup['accessToken']}"}
    line = post(client, {"ticketTypeId": world["tier"].id, "quantity": 2}, access)
    line_id = line.get_json()["data"]["items"][0]["id"]
    stale = [
        auth.headers(user, expires_delta=td(seconds=-1)),
        {"Authorization": f"Bearer {signup['refreshToken']}"},
    ]
    assert client.post("/api/auth/logout", headers=access).status_code == 204
    stale.append(access)
    ghost = make.user()
    ghost_headers = auth.headers(ghost)
    sql("DELETE FROM app_user WHERE id = :id", id=ghost.id)
    stale.append(ghost_headers)
    before = snapshot(sql)
    calls = {
        "get": lambda h: client.get("/api/cart", headers=h),
        "add": lambda h: post(client, {"ticketTypeId": world["tier"].id, "quantity": 1}, h),
        "put": lambda h: client.put(f"/api/cart/items/{line_id}", json={"quantity": 1}, headers=h),
        "delete_line": lambda h: client.delete(f"/api/cart/items/{line_id}", headers=h),
        "empty": lambda h: client.delete("/api/cart", headers=h),
    }
    for headers in stale:
        response = calls[route](headers)
        problem(response, 401)
        assert "X-Cart-Token" not in response.headers
    assert snapshot(sql) == before
