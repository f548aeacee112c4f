"""Reading and cancelling orders, listing tickets. Everything is scoped to its owner: another
user's order is indistinguishable from one that does not exist."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, selectinload

from shop.models import Event, Order, OrderItem, OrderStatus, Ticket, TicketStatus, TicketType
from shop.pagination import Page, paginate
from shop.services.errors import OrderNotCancellable, OrderNotFound
from shop.services.locking import lock_events, lock_ticket_types


def list_orders(session: Session, user_id: int, page: int, page_size: int) -> Page:
    """The user's orders, newest first, with their lines (two queries plus the count)."""
    statement = (
        select(Order)
        .where(Order.user_id == user_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    return paginate(session, statement, page, page_size, options=(selectinload(Order.items),))


def get_order(
    session: Session, user_id: int, order_id: int, *, lock: bool = False, fresh: bool = False
) -> Order:
    """The user's order with lines and tickets (`fresh`: re-read what this transaction changed
    with SQL statements rather than through these objects)."""
    statement = (
        select(Order)
        .where(Order.id == order_id, Order.user_id == user_id)
        .options(selectinload(Order.items).selectinload(OrderItem.tickets))
    )
    if lock:
        statement = statement.with_for_update(of=Order)
    if fresh:
        statement = statement.execution_options(populate_existing=True)
    order = session.scalar(statement)
    if order is None:
        raise OrderNotFound()
    return order


def cancel_order(session: Session, user_id: int, order_id: int) -> Order:
    """Cancel a confirmed order before any of its events starts: the seats of its still-valid
    tickets go back on sale and those tickets are voided. Tickets an event cancellation already
    voided released their seats then, so cancelling an order and cancelling one of its events
    commute, in either order. Twice, after an event started, or with a ticket already scanned:
    409. Locks follow shop/services/locking.py: events (shared), order, tiers, tickets."""
    event_ids = session.scalars(
        select(OrderItem.event_id)
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.id == order_id, Order.user_id == user_id)
    ).all()
    if not event_ids:
        raise OrderNotFound()
    # An admin cancelling one of these events waits for us, or we wait for it: never both.
    lock_events(session, event_ids, to_change=False)
    order = get_order(session, user_id, order_id, lock=True)
    # Cancelled already: the `cancelled_at_matches_status` constraint ties this time to status.
    if order.cancelled_at is not None:
        raise OrderNotCancellable(
            f"Order {order.id} was already cancelled at {order.cancelled_at.isoformat()}: its"
            " tickets are void and its seats released, there is nothing more to do."
        )
    started = session.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.id.in_(event_ids), Event.starts_at <= func.now())
    )
    if started:
        raise OrderNotCancellable(
            "An event in this order has already started; it can no longer be cancelled."
        )
    item_tier = {item.id: item.ticket_type_id for item in order.items}
    lock_ticket_types(session, item_tier.values())
    ticket_statuses = session.scalars(
        select(Ticket.status)
        .where(Ticket.order_item_id.in_(item_tier))
        .order_by(Ticket.id)
        .with_for_update()
    ).all()
    if TicketStatus.USED in ticket_statuses:
        raise OrderNotCancellable(
            "A ticket of this order was already scanned at the door, so it can no longer be"
            " cancelled."
        )
    voided = session.scalars(
        update(Ticket)
        .where(Ticket.order_item_id.in_(item_tier), Ticket.status == TicketStatus.VALID)
        .values(status=TicketStatus.VOID, voided_at=func.now(), updated_at=func.now())
        .returning(Ticket.order_item_id)
        .execution_options(synchronize_session=False)
    ).all()
    release_seats(session, Counter(item_tier[item_id] for item_id in voided))
    session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(status=OrderStatus.CANCELLED, cancelled_at=func.now(), updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return get_order(session, user_id, order_id, fresh=True)


def release_seats(session: Session, seats_per_tier: Mapping[int, int]) -> None:
    """Lower `sold` by the seats of tickets just voided (tiers locked by the caller)."""
    for tier_id, seats in sorted(seats_per_tier.items()):
        session.execute(
            update(TicketType)
            .where(TicketType.id == tier_id)
            .values(sold=TicketType.sold - seats)
            .execution_options(synchronize_session=False)
        )


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
