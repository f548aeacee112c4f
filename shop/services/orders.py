"""Reading and cancelling orders, listing tickets. Everything is scoped to its owner: another
user's order is indistinguishable from one that does not exist."""

from __future__ import annotations

from sqlalchemy import case, func, select, text, update
from sqlalchemy.orm import Session, selectinload

from shop.errors import OrderNotCancellable, OrderNotFound
from shop.models import Event, Order, OrderItem, Ticket, TicketType
from shop.pagination import Page, paginate


def list_orders(session: Session, user_id: int, page: int, page_size: int) -> Page:
    """The user's orders, newest first, with their lines (two queries plus the count)."""
    statement = (
        select(Order)
        .where(Order.user_id == user_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    return paginate(session, statement, page, page_size, options=(selectinload(Order.items),))


def get_order(session: Session, user_id: int, order_id: int, *, lock: bool = False) -> Order:
    statement = (
        select(Order)
        .where(Order.id == order_id, Order.user_id == user_id)
        .options(selectinload(Order.items).selectinload(OrderItem.tickets))
    )
    if lock:
        statement = statement.with_for_update(of=Order)
    order = session.scalar(statement)
    if order is None:
        raise OrderNotFound()
    return order


def cancel_order(
    session: Session, user_id: int, order_id: int, *, lock_timeout_ms: int = 3000
) -> Order:
    """Cancel a confirmed order before any of its events starts: its seats go back on sale
    (`sold` lowered under the same locks checkout takes) and its tickets are voided.
    Twice, after an event started, or with a ticket already scanned: 409."""
    session.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'"))
    order = get_order(session, user_id, order_id, lock=True)
    if order.status == "cancelled":
        raise OrderNotCancellable(
            f"Order {order.id} was already cancelled at {order.cancelled_at.isoformat()}: its"
            " tickets are void and its seats released, there is nothing more to do."
        )
    event_ids = {item.event_id for item in order.items}
    started = session.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.id.in_(event_ids), Event.starts_at <= func.now())
    )
    if started:
        raise OrderNotCancellable(
            "An event in this order has already started; it can no longer be cancelled."
        )
    if any(ticket.status == "used" for item in order.items for ticket in item.tickets):
        raise OrderNotCancellable(
            "A ticket of this order was already scanned at the door, so it can no longer be"
            " cancelled."
        )
    tier_ids = sorted({item.ticket_type_id for item in order.items})
    session.execute(
        select(TicketType.id)
        .where(TicketType.id.in_(tier_ids))
        .order_by(TicketType.id)
        .with_for_update()
    )
    for item in order.items:
        session.execute(
            update(TicketType)
            .where(TicketType.id == item.ticket_type_id)
            .values(sold=TicketType.sold - item.quantity)
            .execution_options(synchronize_session=False)
        )
    now = session.scalar(select(func.now()))
    session.execute(
        update(Ticket)
        .where(Ticket.order_item_id.in_([item.id for item in order.items]))
        .values(status="void", voided_at=now)
        .execution_options(synchronize_session=False)
    )
    order.status = "cancelled"
    order.cancelled_at = now
    session.flush()
    return order


def list_tickets(session: Session, user_id: int, page: int, page_size: int) -> Page:
    """The user's tickets: upcoming events first (soonest first), then past ones."""
    upcoming_first = case((OrderItem.event_starts_at >= func.now(), 0), else_=1)
    statement = (
        select(Ticket, OrderItem)
        .join(OrderItem, OrderItem.id == Ticket.order_item_id)
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.user_id == user_id)
        .order_by(upcoming_first, OrderItem.event_starts_at, Ticket.id)
    )
    return paginate(session, statement, page, page_size, scalars=False)
