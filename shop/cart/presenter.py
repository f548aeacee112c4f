"""The cart as the API shows it (`CartSchema`): current prices, line totals, the subtotal,
seats left per line, and every warning the client should act on, those the change itself
produced (`CartOutcome.warnings`) and those the cart's state calls for now (a lapsed hold, a new
price, a tier no longer on sale or short of seats)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from shop.models import CartItem, Event, EventStatus, TicketType
from shop.schemas import DEFAULT_CURRENCY
from shop.services.availability import held_by_others_scalar, seats_left
from shop.services.carts import CartLines, CartOutcome, cart_warning
from shop.services.catalog import tier_on_sale

# Plain columns, not ORM objects: a 20-line cart is 20 small rows to read, not 60 objects to
# build. Each row carries what tier_on_sale needs (status, starts_at, sales window). Built once,
# like the statements above.
_CART_VIEW_LINES = (
    select(
        CartItem.id,
        CartItem.quantity,
        CartItem.unit_price.label("price_when_added"),
        TicketType.id.label("ticket_type_id"),
        TicketType.name.label("ticket_type_name"),
        TicketType.price,
        TicketType.currency,
        TicketType.sales_start,
        TicketType.sales_end,
        TicketType.capacity,
        TicketType.sold,
        Event.id.label("event_id"),
        Event.title,
        Event.starts_at,
        Event.status,
        held_by_others_scalar(TicketType.id, bindparam("cart_id")).label("held"),
        func.now().label("now"),
    )
    .join(TicketType, TicketType.id == CartItem.ticket_type_id)
    .join(Event, Event.id == CartItem.event_id)
    .where(CartItem.cart_id == bindparam("cart_id"))
    .order_by(CartItem.id)
)


class _Line(NamedTuple):
    """One line of `_CART_VIEW_LINES`, built from what a change read under its locks."""

    id: int
    quantity: int
    price_when_added: Decimal
    ticket_type_id: int
    ticket_type_name: str
    price: Decimal
    currency: str
    sales_start: datetime | None
    sales_end: datetime | None
    capacity: int
    sold: int
    event_id: int
    title: str
    starts_at: datetime
    status: str
    held: int
    now: datetime


def _lines_as_changed(read: CartLines) -> list[_Line]:
    """The view's rows from the lines a change just wrote: the same figures the query would
    return inside that transaction (the tiers are locked and were read under the lock; other
    carts' holds cannot change while the lock is held), without the round trip."""
    rows = []
    for line in sorted(read.lines, key=lambda line: line.id):
        tier = read.tiers[line.ticket_type_id]
        event = tier.event
        rows.append(
            _Line(
                line.id,
                line.quantity,
                line.unit_price,
                tier.id,
                tier.name,
                tier.price,
                tier.currency,
                tier.sales_start,
                tier.sales_end,
                tier.capacity,
                tier.sold,
                event.id,
                event.title,
                event.starts_at,
                event.status,
                read.held.get(tier.id, 0),
                read.now,
            )
        )
    return rows


def cart_view(session: Session, outcome: CartOutcome) -> dict[str, Any]:
    """The cart as the API shows it: current prices, line totals, subtotal, per-line
    availability and every warning the client should act on (one query: the lines with their
    tier, event, seats left and the clock)."""
    cart = outcome.cart
    warnings = list(outcome.warnings)
    if cart is None:
        return {
            "id": None,
            "items": [],
            "total_quantity": 0,
            # Exactly what an emptied cart shows: an empty cart is an empty cart.
            "subtotal": {"amount": Decimal("0.00"), "currency": DEFAULT_CURRENCY},
            "hold_expires_at": None,
            "warnings": warnings,
            "updated_at": None,
            "cart_token": outcome.guest_token,
        }
    rows: Sequence[Any]
    if outcome.read is not None:
        rows = _lines_as_changed(outcome.read)
    else:
        # Plain columns on the session's connection, past the ORM's execute (~100 µs of CPU
        # for one statement); what the request changed is flushed first, as autoflush would.
        session.flush()
        rows = session.connection().execute(_CART_VIEW_LINES, {"cart_id": cart.id}).all()
    now = rows[0].now if rows else None
    hold_live = now is not None and cart.hold_expires_at is not None and cart.hold_expires_at > now
    if rows and not hold_live:
        warnings.append(
            cart_warning(
                "hold_expired",
                "Your seats are no longer held. They are checked"
                " again when you change the cart or check out.",
            )
        )
    items = []
    for row in rows:
        available = seats_left(row.capacity, row.sold, row.held)
        if row.price != row.price_when_added:
            warnings.append(
                cart_warning(
                    "price_changed",
                    f"{row.ticket_type_name} for {row.title} now costs"
                    f" {row.price} {row.currency} (was {row.price_when_added}).",
                    row.id,
                    old_price={"amount": row.price_when_added, "currency": row.currency},
                    new_price={"amount": row.price, "currency": row.currency},
                )
            )
        if not tier_on_sale(row, row, row.now):
            reason = (
                "the event was cancelled"
                if row.status == EventStatus.CANCELLED
                else "sales have ended"
            )
            warnings.append(
                cart_warning(
                    "not_on_sale",
                    f"{row.ticket_type_name} for {row.title} can no longer be"
                    f" bought ({reason}). Remove the line to check out.",
                    row.id,
                )
            )
        elif row.quantity > available:
            code = "sold_out" if available == 0 else "insufficient_availability"
            warnings.append(
                cart_warning(
                    code,
                    f"Only {available} {row.ticket_type_name} tickets are left;"
                    f" your cart has {row.quantity}.",
                    row.id,
                )
            )
        items.append(
            {
                "id": row.id,
                "event_id": row.event_id,
                "ticket_type_id": row.ticket_type_id,
                "ticket_type_name": row.ticket_type_name,
                "event": {"id": row.event_id, "title": row.title, "starts_at": row.starts_at},
                "quantity": row.quantity,
                "unit_price": {"amount": row.price, "currency": row.currency},
                "line_total": {"amount": row.price * row.quantity, "currency": row.currency},
                "available": available,
            }
        )
    currency = rows[0].currency if rows else None
    subtotal = sum((row.price * row.quantity for row in rows), Decimal("0.00"))
    return {
        "id": cart.id,
        "cart_token": outcome.guest_token,
        "items": items,
        "total_quantity": sum(row.quantity for row in rows),
        "subtotal": {"amount": subtotal, "currency": currency or DEFAULT_CURRENCY},
        "hold_expires_at": cart.hold_expires_at if rows else None,
        "warnings": warnings,
        "updated_at": cart.updated_at,
    }


# --- the cart as JSON ------------------------------------------------------------------------
#
# Fast path: `cart_json` writes the dict `cart_view` returns in its wire form (camelCase keys,
# amounts as "250.00", times in ISO 8601) by hand, which is what `CartEnvelopeSchema().dump`
# would produce, key for key and in the same order. marshmallow walks ~130 field objects a cart
# line (the line, its event, two Money amounts): ~450 µs of CPU for a 20-line cart, a quarter of
# an add's Python calls; these few functions do the same job in ~75 µs. The schemas stay the
# contract: they document the answer (OpenAPI) and tests/test_cart_json.py compares this output
# with their dump for carts of every shape (each warning, guest and signed-in, empty), so a field
# added to a schema and not here fails that test.

_CENTS = Decimal("0.01")


def _amount(value: Decimal) -> str:
    """What `fields.Decimal(places=2, as_string=True)` dumps: rounded half-even to cents."""
    return format(Decimal(str(value)).quantize(_CENTS, rounding=ROUND_HALF_EVEN), "f")


def _money(money: dict[str, Any]) -> dict[str, Any]:
    return {"amount": _amount(money["amount"]), "currency": money["currency"]}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


# A warning's members in `CartWarningSchema`'s order, with their wire names; the last ones come
# with some codes only and are left out when absent (`Meta.optional`).
_WARNING_MEMBERS = (
    ("code", "code", str),
    ("detail", "detail", str),
    ("item_id", "itemId", int),
    ("requested", "requested", int),
    ("kept", "kept", int),
    ("old_price", "oldPrice", _money),
    ("new_price", "newPrice", _money),
)


def _warning_json(warning: dict[str, Any]) -> dict[str, Any]:
    return {
        wire: None if warning[name] is None else write(warning[name])
        for name, wire, write in _WARNING_MEMBERS
        if name in warning
    }


def _item_json(item: dict[str, Any]) -> dict[str, Any]:
    event = item["event"]
    return {
        "id": item["id"],
        "eventId": item["event_id"],
        "ticketTypeId": item["ticket_type_id"],
        "ticketTypeName": item["ticket_type_name"],
        "event": {"id": event["id"], "title": event["title"], "startsAt": _iso(event["starts_at"])},
        "quantity": item["quantity"],
        "unitPrice": _money(item["unit_price"]),
        "lineTotal": _money(item["line_total"]),
        "available": item["available"],
    }


def cart_json(view: dict[str, Any]) -> dict[str, Any]:
    """`cart_view`'s dict as `CartSchema` dumps it (see the note above)."""
    return {
        "id": view["id"],
        "cartToken": view["cart_token"],
        "items": [_item_json(item) for item in view["items"]],
        "totalQuantity": view["total_quantity"],
        "subtotal": _money(view["subtotal"]),
        "holdExpiresAt": _iso(view["hold_expires_at"]),
        "warnings": [_warning_json(warning) for warning in view["warnings"]],
        "updatedAt": _iso(view["updated_at"]),
    }
