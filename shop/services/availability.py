"""Seat availability: `capacity - sold - seats held by other carts' unexpired holds`.

Holds are not swept by a job: a hold counts while its cart is active and `hold_expires_at` is in
the future, so an expired hold frees its seats the moment it expires.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, func, select, text
from sqlalchemy.orm import Session

from shop.models import Cart, CartItem, TicketType


def held_seats(ticket_type_id, *, exclude_cart_id: int | None = None) -> ColumnElement[int]:
    """Correlated scalar: seats of `ticket_type_id` held by active carts with a live hold."""
    conditions = [
        CartItem.ticket_type_id == ticket_type_id,
        Cart.status == "active",
        Cart.hold_expires_at > func.now(),
    ]
    if exclude_cart_id is not None:
        conditions.append(Cart.id != exclude_cart_id)
    return (
        select(func.coalesce(func.sum(CartItem.quantity), 0))
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(and_(*conditions))
        .scalar_subquery()
    )


def held_by_ticket_type():
    """Subquery (ticket_type_id, held): seats held per tier by live holds, computed once per
    query and joined, rather than once per tier."""
    return (
        select(CartItem.ticket_type_id, func.sum(CartItem.quantity).label("held"))
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(Cart.status == "active", Cart.hold_expires_at > func.now())
        .group_by(CartItem.ticket_type_id)
        .subquery("held")
    )


def available_expression(*, exclude_cart_id: int | None = None) -> ColumnElement[int]:
    """Seats of the TicketType in the surrounding query that anyone (but `exclude_cart_id`) can
    still put in a cart, never below zero."""
    return func.greatest(
        TicketType.capacity
        - TicketType.sold
        - held_seats(TicketType.id, exclude_cart_id=exclude_cart_id),
        0,
    )


def available_by_ticket_type(
    session: Session, ticket_type_ids: Iterable[int], *, exclude_cart_id: int | None = None
) -> dict[int, int]:
    """Available seats per ticket type id, in one query."""
    ids = list(ticket_type_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(TicketType.id, available_expression(exclude_cart_id=exclude_cart_id)).where(
            TicketType.id.in_(ids)
        )
    )
    return dict(rows.all())


# One constant statement (compiled once): every tier of the given events, minus live holds.
AVAILABLE_BY_EVENT = text(
    """
    WITH tiers AS (
        SELECT id, event_id, capacity, sold FROM ticket_type WHERE event_id = ANY(:event_ids)
    ),
    held AS (
        SELECT ci.ticket_type_id, sum(ci.quantity) AS held
        FROM cart_item ci JOIN cart c ON c.id = ci.cart_id
        WHERE ci.ticket_type_id IN (SELECT id FROM tiers)
          AND c.status = 'active' AND c.hold_expires_at > now()
        GROUP BY ci.ticket_type_id
    )
    SELECT tiers.event_id, sum(greatest(capacity - sold - coalesce(held.held, 0), 0))::int
    FROM tiers LEFT JOIN held ON held.ticket_type_id = tiers.id
    GROUP BY tiers.event_id
    """
)


def available_by_event(session: Session, event_ids: Iterable[int]) -> dict[int, int]:
    """Available seats per event (all its tiers), in one query."""
    ids = list(event_ids)
    if not ids:
        return {}
    rows = session.connection().execute(AVAILABLE_BY_EVENT, {"event_ids": ids})
    return dict(rows.all())
