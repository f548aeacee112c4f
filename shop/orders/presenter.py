"""Orders as the API shows them: `order_view` shapes an order (and its tickets) for
`OrderSchema`, for the checkout and the order routes alike."""

from __future__ import annotations

from typing import Any

from shop.models import Order
from shop.schemas import money


def order_view(order: Order, *, with_tickets: bool = False) -> dict[str, Any]:
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
