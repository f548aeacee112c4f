"""The cart's answers are written by `cart_json` (shop/cart/presenter.py), not dumped by
marshmallow: they must be exactly what `CartEnvelopeSchema` dumps, byte for byte (same keys, same
order, same formats), for carts of every shape."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shop.cart.presenter import cart_json, cart_view
from shop.cart.schemas import CartEnvelopeSchema
from shop.extensions import db
from shop.services import carts

STARTS = datetime(2026, 12, 1, 19, 30, tzinfo=UTC)
UPDATED = datetime(2026, 11, 28, 10, 1, 2, 345678, tzinfo=UTC)


def line(line_id, price, quantity, *, title="Harbour Jazz", starts_at=STARTS):
    return {
        "id": line_id,
        "event_id": 4,
        "ticket_type_id": 8 + line_id,
        "ticket_type_name": f"Tier {line_id}",
        "event": {"id": 4, "title": title, "starts_at": starts_at},
        "quantity": quantity,
        "unit_price": {"amount": price, "currency": "DKK"},
        "line_total": {"amount": price * quantity, "currency": "DKK"},
        "available": 7,
    }


def every_warning():
    money = {"amount": Decimal("250.00"), "currency": "DKK"}
    return [
        carts.cart_warning("hold_expired", "Your seats are no longer held."),
        carts.cart_warning("quantity_capped", "Capped.", 3, requested=9, kept=4),
        carts.cart_warning(
            "price_changed",
            "Now costs more.",
            3,
            old_price=money,
            new_price={"amount": Decimal("275.5"), "currency": "DKK"},
        ),
        carts.cart_warning("sold_out", "Sold out; the line was removed.", 5),
        carts.cart_warning("currency_mismatch", "Left out."),
        carts.cart_warning("quantity_capped", "Merged.", requested=12, kept=6),
    ]


VIEWS = {
    "no cart yet": {
        "id": None,
        "items": [],
        "total_quantity": 0,
        "subtotal": {"amount": Decimal("0.00"), "currency": "DKK"},
        "hold_expires_at": None,
        "warnings": [],
        "updated_at": None,
        "cart_token": None,
    },
    "guest cart with lines": {
        "id": 17,
        "cart_token": "A" * 43,
        "items": [line(1, Decimal("250.00"), 2), line(2, Decimal("99.5"), 3, starts_at=UPDATED)],
        "total_quantity": 5,
        "subtotal": {"amount": Decimal("798.50"), "currency": "DKK"},
        "hold_expires_at": UPDATED + timedelta(minutes=15),
        "warnings": [],
        "updated_at": UPDATED,
    },
    "signed-in cart with every warning": {
        "id": 18,
        "cart_token": None,
        "items": [line(3, Decimal("100"), 1, title='Quotes " and ø'), line(5, Decimal("0.125"), 1)],
        "total_quantity": 2,
        "subtotal": {"amount": Decimal("100.125"), "currency": "EUR"},
        "hold_expires_at": None,
        "warnings": every_warning(),
        "updated_at": UPDATED,
    },
}


@pytest.mark.parametrize("shape", VIEWS)
def test_cart_json_is_what_the_schema_dumps_byte_for_byte(app, shape):
    view = VIEWS[shape]
    with app.app_context():
        dumped = app.json.response(CartEnvelopeSchema().dump({"data": view})).get_data()
        written = app.json.response({"data": cart_json(view)}).get_data()
    assert written == dumped


def test_cart_answers_are_the_schema_dump_of_the_cart(app, client, make, auth, sql):
    event = make.event(title="Harbour Jazz")
    tiers = [
        make.ticket_type(event, name=f"Tier {n}", price=Decimal("250.00"), capacity=10)
        for n in range(3)
    ]
    user = make.user()
    headers = auth.headers(user)
    for tier in tiers:
        added = client.post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2}, headers=headers
        )
        assert added.status_code == 201
    sql("UPDATE ticket_type SET price = 275 WHERE id = :id", id=tiers[1].id)
    answered = client.get("/api/cart", headers=headers)
    assert answered.status_code == 200
    with app.app_context():
        outcome = carts.find_cart(
            db.session(), carts.CartOwner(user_id=user.id), carts.HoldPolicy()
        )
        view = cart_view(db.session(), outcome)
        dumped = app.json.response(CartEnvelopeSchema().dump({"data": view})).get_data()
    assert [w["code"] for w in answered.get_json()["data"]["warnings"]] == ["price_changed"]
    assert answered.get_data() == dumped
    assert added.get_json()["data"]["items"][2]["lineTotal"] == {
        "amount": "500.00",
        "currency": "DKK",
    }
