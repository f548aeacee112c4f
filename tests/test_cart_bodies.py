"""Review attacks on the cart's answer: the body of every cart change equals the plain
definition read back from the database (current prices as two-place strings, line totals, the
subtotal, lines by id, seats left, the hold's expiry and the cart's version as the API writes
times, nulls where nothing is held) and what `GET /api/cart` shows right after. Values chosen
to tell formats apart: cents, 0.00, amounts past NUMERIC(10, 2), times with and without
fractions of a second (and fractions ending in zeros), text that needs escaping."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.factories import now
from tests.helpers import problem

GUEST = {"REMOTE_ADDR": "203.0.113.50"}


def add(client, tier, quantity, headers=None):
    return client.post(
        "/api/cart/items",
        json={"ticketTypeId": tier.id, "quantity": quantity},
        headers=headers or {},
        environ_base=GUEST,
    )


def api_time(value: datetime | None) -> str | None:
    """A time as the API writes it (marshmallow: isoformat of the UTC datetime)."""
    return None if value is None else value.astimezone(UTC).isoformat()


def money(amount: Decimal, currency: str) -> dict:
    return {"amount": f"{amount:.2f}", "currency": currency}


def expected_cart(sql, cart_id: int, token: str | None) -> dict:
    """The cart by the plain definition, read from the database (warnings left aside)."""
    cart = sql(
        "SELECT id, hold_expires_at, updated_at, hold_expires_at > now() AS live FROM cart"
        " WHERE id = :id",
        id=cart_id,
    )[0]
    lines = sql(
        "SELECT ci.id, ci.quantity, t.id AS tier_id, t.name, t.price, t.currency,"
        " t.capacity, t.sold, e.id AS event_id, e.title, e.starts_at,"
        " (SELECT coalesce(sum(o.quantity), 0) FROM cart_item o JOIN cart c ON c.id = o.cart_id"
        "  WHERE o.ticket_type_id = t.id AND c.id <> ci.cart_id AND c.status = 'active'"
        "  AND c.hold_expires_at > now()) AS held"
        " FROM cart_item ci JOIN ticket_type t ON t.id = ci.ticket_type_id"
        " JOIN event e ON e.id = ci.event_id WHERE ci.cart_id = :id ORDER BY ci.id",
        id=cart_id,
    )
    items = [
        {
            "id": line["id"],
            "eventId": line["event_id"],
            "ticketTypeId": line["tier_id"],
            "ticketTypeName": line["name"],
            "event": {
                "id": line["event_id"],
                "title": line["title"],
                "startsAt": api_time(line["starts_at"]),
            },
            "quantity": line["quantity"],
            "unitPrice": money(line["price"], line["currency"]),
            "lineTotal": money(line["price"] * line["quantity"], line["currency"]),
            "available": max(line["capacity"] - line["sold"] - line["held"], 0),
        }
        for line in lines
    ]
    currency = lines[0]["currency"] if lines else "DKK"
    return {
        "id": cart["id"],
        "cartToken": token,
        "items": items,
        "totalQuantity": sum(line["quantity"] for line in lines),
        "subtotal": money(sum((x["price"] * x["quantity"] for x in lines), Decimal(0)), currency),
        "holdExpiresAt": api_time(cart["hold_expires_at"]) if lines else None,
        "updatedAt": api_time(cart["updated_at"]),
    }


def check_answer(client, sql, response, headers, status=201, change_warnings=()):
    """The change's answer is the plain definition, and GET /api/cart shows the same."""
    assert response.status_code == status, response.get_json()
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"data"}
    data = body["data"]
    assert set(data) == {
        "id", "cartToken", "items", "totalQuantity", "subtotal", "holdExpiresAt", "warnings",
        "updatedAt",
    }  # fmt: skip
    token = response.headers.get("X-Cart-Token")
    assert data["cartToken"] == token
    want = expected_cart(sql, data["id"], token)
    assert {k: v for k, v in data.items() if k != "warnings"} == want
    shown = client.get(
        "/api/cart", headers={**headers, **({"X-Cart-Token": token} if token else {})}
    )
    assert shown.status_code == 200
    after = shown.get_json()["data"]
    assert {k: v for k, v in after.items() if k != "warnings"} == want
    # The change's own warnings first (what it did), then those the cart's state calls for,
    # which the next GET shows again, word for word.
    codes = [w["code"] for w in data["warnings"]]
    assert codes[: len(change_warnings)] == list(change_warnings), data["warnings"]
    assert data["warnings"][len(change_warnings) :] == after["warnings"]
    return data


@pytest.fixture
def odd_event(make):
    """An event whose texts need escaping and whose start has fractions of a second that end in
    zeros (PostgreSQL writes .12, Python .120000)."""
    starts = (now() + timedelta(days=9)).replace(microsecond=120000)
    return make.event(title='Jazz "Live" \\ Ø 🎷 </script>', starts_at=starts)


def test_a_guest_first_add_answers_the_plain_cart_with_cents(client, make, sql, odd_event):
    tier = make.ticket_type(odd_event, name="Floor ½", price=Decimal("33.33"), capacity=7)
    data = check_answer(client, sql, add(client, tier, 3), {})
    assert data["subtotal"] == {"amount": "99.99", "currency": "DKK"}
    assert data["items"][0]["event"]["startsAt"].endswith(".120000+00:00")
    assert data["warnings"] == []


def test_a_guest_second_add_to_its_cart_answers_the_plain_cart(client, make, sql, odd_event):
    first = make.ticket_type(odd_event, name="A", price=Decimal("0.00"), capacity=5)
    whole_second = make.event(starts_at=(now() + timedelta(days=3)).replace(microsecond=0))
    second = make.ticket_type(whole_second, name="B", price=Decimal("1234.50"), capacity=9)
    token = {"X-Cart-Token": add(client, first, 2).headers["X-Cart-Token"]}
    data = check_answer(client, sql, add(client, second, 4, token), token)
    assert [i["unitPrice"]["amount"] for i in data["items"]] == ["0.00", "1234.50"]
    assert (
        data["items"][1]["event"]["startsAt"].endswith(":00+00:00")
        or "." not in (data["items"][1]["event"]["startsAt"])
    )
    assert data["subtotal"]["amount"] == "4938.00"


def test_a_signed_in_first_add_answers_the_plain_cart(client, make, auth, sql, odd_event):
    tier = make.ticket_type(odd_event, price=Decimal("0.01"), capacity=3, max_per_order=3)
    headers = auth.headers(make.user())
    data = check_answer(client, sql, add(client, tier, 3, headers), headers)
    assert data["cartToken"] is None and data["items"][0]["available"] == 3


def test_amounts_past_numeric_10_2_are_still_exact(client, make, auth, sql):
    """Line totals and the subtotal are not stored: they may exceed what a price column holds."""
    event = make.event()
    dear = make.ticket_type(event, price=Decimal("99999999.99"), capacity=500, max_per_order=100)
    also = make.ticket_type(event, price=Decimal("99999999.99"), capacity=500, max_per_order=100)
    headers = auth.headers(make.user())
    add(client, dear, 100, headers)
    data = check_answer(client, sql, add(client, also, 100, headers), headers)
    assert data["subtotal"]["amount"] == "19999999998.00"
    assert data["items"][0]["lineTotal"]["amount"] == "9999999999.00"


def test_lines_come_by_id_after_a_merge_moved_an_older_guest_line_in(client, make, auth, sql):
    event = make.event()
    tiers = [make.ticket_type(event, name=f"T{n}", capacity=50) for n in range(4)]
    guest = add(client, tiers[3], 1)  # the oldest line, of the highest tier
    guest_token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    headers = auth.headers(make.user())
    add(client, tiers[1], 1, headers)
    response = add(client, tiers[0], 2, {**headers, **guest_token})
    data = check_answer(client, sql, response, headers)
    assert [i["ticketTypeId"] for i in data["items"]] == [tiers[3].id, tiers[1].id, tiers[0].id]


def test_raising_a_line_whose_price_changed_answers_the_new_price_and_no_warning(
    client, make, auth, sql
):
    tier = make.ticket_type(price=Decimal("100.00"), capacity=20)
    other = make.ticket_type(price=Decimal("10.10"), capacity=20)
    headers = auth.headers(make.user())
    add(client, tier, 1, headers)
    add(client, other, 1, headers)
    sql("UPDATE ticket_type SET price = price + 0.05 WHERE id IN (:a, :b)", a=tier.id, b=other.id)
    data = check_answer(client, sql, add(client, tier, 2, headers), headers)
    assert data["items"][0]["unitPrice"]["amount"] == "100.05"
    # The line not touched still warns (old and new price, two places each), in both answers.
    (warning,) = data["warnings"]
    assert warning["code"] == "price_changed" and warning["itemId"] == data["items"][1]["id"]
    assert warning["oldPrice"] == {"amount": "10.10", "currency": "DKK"}
    assert warning["newPrice"] == {"amount": "10.15", "currency": "DKK"}


def test_seats_held_by_others_and_lapsed_holds_show_in_available(client, make, auth, sql):
    tier = make.ticket_type(capacity=10, sold=2, max_per_order=10)
    make.cart([(tier, 3)])  # live: counts
    make.cart([(tier, 4)], hold_minutes=-1)  # lapsed: does not
    make.cart([(tier, 1)], status="merged")  # merged: does not
    headers = auth.headers(make.user())
    data = check_answer(client, sql, add(client, tier, 2, headers), headers)
    assert data["items"][0]["available"] == 5


def test_an_add_to_a_lapsed_cart_answers_its_caps_then_the_plain_cart(client, make, auth, sql):
    short = make.ticket_type(capacity=4, max_per_order=10)
    gone = make.ticket_type(capacity=2, max_per_order=10)
    roomy = make.ticket_type(capacity=50, max_per_order=10)
    user = make.user()
    make.cart([(short, 4), (gone, 2)], user=user, hold_minutes=-1)
    make.cart([(short, 1), (gone, 2)])  # someone else holds seats meanwhile
    headers = auth.headers(user)
    response = add(client, roomy, 1, headers)
    data = check_answer(
        client, sql, response, headers, change_warnings=["quantity_capped", "sold_out"]
    )
    assert [i["quantity"] for i in data["items"]] == [3, 1]


def test_a_hold_past_its_renewals_answers_hold_not_renewed_and_the_plain_cart(
    client, make, auth, sql
):
    tier = make.ticket_type(capacity=50, max_per_order=10)
    user = make.user()
    headers = auth.headers(user)
    add(client, tier, 1, headers)
    sql("UPDATE cart SET hold_renewals = 8 WHERE user_id = :u", u=user.id)
    data = check_answer(
        client, sql, add(client, tier, 1, headers), headers, change_warnings=["hold_not_renewed"]
    )
    assert data["holdExpiresAt"] is not None


def test_a_cart_past_its_hold_life_answers_null_hold_free_seats_and_the_plain_cart(
    client, make, auth, sql
):
    tier = make.ticket_type(capacity=50, max_per_order=10)
    user = make.user()
    headers = auth.headers(user)
    add(client, tier, 1, headers)
    sql(
        "UPDATE cart SET hold_renewals = 8, hold_expires_at = now() - interval '1 second'"
        " WHERE user_id = :u",
        u=user.id,
    )
    response = add(client, tier, 1, headers)
    data = check_answer(client, sql, response, headers, change_warnings=["hold_limit_reached"])
    # Not held: the state warning says so too, in the answer and in the GET after it.
    assert [w["code"] for w in data["warnings"]] == ["hold_limit_reached", "hold_expired"]


def test_an_empty_signed_in_cart_and_an_emptied_one_answer_nulls(client, make, auth, sql):
    tier = make.ticket_type()
    headers = auth.headers(make.user())
    nothing = client.get("/api/cart", headers=headers).get_json()["data"]
    assert nothing == {
        "id": None, "cartToken": None, "items": [], "totalQuantity": 0,
        "subtotal": {"amount": "0.00", "currency": "DKK"}, "holdExpiresAt": None,
        "warnings": [], "updatedAt": None,
    }  # fmt: skip
    line = add(client, tier, 1, headers).get_json()["data"]["items"][0]["id"]
    emptied = client.delete(f"/api/cart/items/{line}", headers=headers)
    data = check_answer(client, sql, emptied, headers, status=200)
    assert data["items"] == [] and data["holdExpiresAt"] is None and data["id"] is not None


def test_put_answers_the_plain_cart(client, make, auth, sql, odd_event):
    tier = make.ticket_type(odd_event, price=Decimal("19.95"), capacity=9, max_per_order=9)
    headers = auth.headers(make.user())
    line = add(client, tier, 1, headers).get_json()["data"]["items"][0]["id"]
    response = client.put(f"/api/cart/items/{line}", json={"quantity": 7}, headers=headers)
    data = check_answer(client, sql, response, headers, status=200)
    assert data["subtotal"]["amount"] == "139.65"


def test_a_refused_add_is_problem_json_not_a_cart(client, make, auth):
    tier = make.ticket_type(capacity=1)
    headers = auth.headers(make.user())
    problem(add(client, tier, 2, headers), 409, "insufficient_availability")


def test_change_warnings_carry_exactly_their_members(client, make, auth, sql, app, monkeypatch):
    """Warnings of a merge (line limit, currency, sold out, capped) and of a lapsed cart's
    re-check: each has its code, its detail, and only the members its code comes with."""
    monkeypatch.setitem(app.config, "CART_MAX_LINES", 2)
    event = make.event()
    kept, capped, extra = (make.ticket_type(event, name=n, capacity=50) for n in "ABC")
    short = make.ticket_type(make.event(), name="Short", capacity=3, max_per_order=10)
    gone = make.ticket_type(make.event(), name="Gone", capacity=1, max_per_order=10)
    euro = make.ticket_type(make.event(currency="EUR"), currency="EUR", name="Euro")
    user = make.user()
    headers = auth.headers(user)
    add(client, kept, 1, headers)
    guest = add(client, capped, 9)
    token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    add(client, capped, 1, token)  # 10: the most per order
    add(client, extra, 1, token)
    sql("UPDATE cart SET client_address = '198.51.100.1' WHERE user_id IS NULL")
    merged = client.get("/api/cart", headers={**headers, **token}).get_json()["data"]
    assert [w["code"] for w in merged["warnings"]] == ["cart_line_limit"]
    assert set(merged["warnings"][0]) == {"code", "detail"}
    # A lapsed cart: one line capped, one sold out (their members), then the plain cart.
    lapsed = make.user()
    make.cart([(short, 3), (gone, 1)], user=lapsed, hold_minutes=-1)
    make.cart([(short, 1), (gone, 1)])
    lapsed_headers = auth.headers(lapsed)
    response = add(client, kept, 1, lapsed_headers)
    data = check_answer(
        client, sql, response, lapsed_headers, change_warnings=["quantity_capped", "sold_out"]
    )
    capped_warning, sold_out = data["warnings"][:2]
    short_line = next(i for i in data["items"] if i["ticketTypeId"] == short.id)
    assert capped_warning == {
        "code": "quantity_capped",
        "detail": capped_warning["detail"],
        "itemId": short_line["id"],
        "requested": 3,
        "kept": 2,
    }
    assert set(sold_out) == {"code", "detail", "itemId"}
    # A guest line in another currency left out of a merge: code and detail only.
    buyer = make.user()
    buyer_headers = auth.headers(buyer)
    add(client, kept, 1, buyer_headers)
    euro_cart = client.post(
        "/api/cart/items",
        json={"ticketTypeId": euro.id, "quantity": 1},
        environ_base={"REMOTE_ADDR": "192.0.2.44"},
    )
    euro_token = {"X-Cart-Token": euro_cart.headers["X-Cart-Token"]}
    response = add(client, kept, 1, {**buyer_headers, **euro_token})
    data = check_answer(client, sql, response, buyer_headers, change_warnings=["currency_mismatch"])
    assert set(data["warnings"][0]) == {"code", "detail"}


@pytest.mark.parametrize("who", ["guest", "user"])
def test_no_cart_request_costs_a_statement_per_line(
    client, make, auth, sql, count_queries, who, app, monkeypatch
):
    monkeypatch.setitem(app.config, "CART_MAX_SEATS_PER_ADDRESS", 100)
    event = make.event()
    tiers = [make.ticket_type(event, name=f"T{n}", capacity=50) for n in range(21)]
    headers = auth.headers(make.user()) if who == "user" else {}
    first = add(client, tiers[0], 1, headers)
    if who == "guest":
        headers = {"X-Cart-Token": first.headers["X-Cart-Token"]}
    line = first.get_json()["data"]["items"][0]["id"]
    sql("UPDATE cart SET hold_renewals = 1")

    def costs() -> list[int]:
        counted = []
        for call in (
            lambda: add(client, tiers[20], 1, headers),
            lambda: client.put(f"/api/cart/items/{line}", json={"quantity": 2}, headers=headers),
            lambda: client.get("/api/cart", headers=headers),
            lambda: client.put(f"/api/cart/items/{line}", json={"quantity": 1}, headers=headers),
        ):
            with count_queries() as statements:
                assert call().status_code in (200, 201)
            counted.append(len(statements))
        drop = client.delete(f"/api/cart/items/{line_of(tiers[20])}", headers=headers)
        assert drop.status_code == 200
        return counted

    def line_of(tier):
        items = client.get("/api/cart", headers=headers).get_json()["data"]["items"]
        return next(i["id"] for i in items if i["ticketTypeId"] == tier.id)

    short = costs()
    for tier in tiers[1:19]:
        add(client, tier, 1, headers)
    sql("UPDATE cart SET hold_renewals = 1")
    assert costs() == short
