"""Orders as the API shows them: `order_view` shapes an order (and its tickets) for
`OrderSchema`, for the checkout and the order routes alike."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from shop.models import Order
from shop.schemas import money
from shop.services.checkout import PlacedOrder


def order_view(order: Order | PlacedOrder, *, with_tickets: bool = False) -> dict[str, Any]:
    items = []
    for item in order.items:
        line = {
            "id": item.id,
            "event_id": item.event_id,
            "ticket_type_id": item.ticket_type_id,
            "event_title": item.event_title,
            "event_starts_at": item.event_starts_at,
            "ticket_type_name": item.ticket_type_name,
            "unit_price": money(item.unit_price, order.currency),
            "quantity": item.quantity,
            "line_total": money(item.line_total, order.currency),
        }
        if with_tickets:
            line["tickets"] = item.tickets
        items.append(line)
    return {
        "id": order.id,
        "status": order.status,
        "total": money(order.total, order.currency),
        "ticket_count": sum(item.quantity for item in order.items),
        "created_at": order.created_at,
        "confirmed_at": order.confirmed_at,
        "cancelled_at": order.cancelled_at,
        "items": items,
    }


# --- the checkout's answer, built as JSON by hand ----------------------------------------------
# Fast path. Every other order answer is `order_view` dumped by flask-smorest through
# `OrderEnvelopeSchema` (marshmallow), which spends ~300 Python calls on one order of one
# ticket (of ~5 300 for a whole checkout), paid while the buyers of an on-sale rush wait in
# gunicorn's queue. The checkout's 201 is built here instead, with the
# wire names and formats the schema would produce (camelCase keys in the schema's field order,
# amounts as strings with two decimals, ISO 8601 times), and the schema still documents it.
# tests/test_checkout.py checks that it is byte for byte what GET /api/orders/{id} answers
# (the schema's dump), so a field added to the schema and not here fails a test.
CENTS = Decimal("0.01")


def _amount(amount: Decimal, currency: str) -> dict[str, str]:
    # As marshmallow's `Decimal(places=2, as_string=True)` writes it.
    return {"amount": format(Decimal(str(amount)).quantize(CENTS), "f"), "currency": currency}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()  # marshmallow's DateTime ("iso")


def placed_order_body(order: PlacedOrder) -> dict[str, Any]:
    """The checkout's 201 body, `{"data": order}` as `OrderEnvelopeSchema` dumps it."""
    currency = order.currency
    return {
        "data": {
            "id": order.id,
            "status": order.status.value,
            "total": _amount(order.total, currency),
            "ticketCount": sum(item.quantity for item in order.items),
            "createdAt": _time(order.created_at),
            "confirmedAt": _time(order.confirmed_at),
            "cancelledAt": _time(order.cancelled_at),
            "items": [
                {
                    "id": item.id,
                    "eventId": item.event_id,
                    "ticketTypeId": item.ticket_type_id,
                    "eventTitle": item.event_title,
                    "eventStartsAt": _time(item.event_starts_at),
                    "ticketTypeName": item.ticket_type_name,
                    "unitPrice": _amount(item.unit_price, currency),
                    "quantity": item.quantity,
                    "lineTotal": _amount(item.line_total, currency),
                    "tickets": [
                        {
                            "id": ticket.id,
                            "code": ticket.code,
                            "status": ticket.status.value,
                            "checkedInAt": _time(ticket.checked_in_at),
                        }
                        for ticket in item.tickets
                    ],
                }
                for item in order.items
            ],
        }
    }
