"""Catalogue management for admins: categories, venues, events, ticket types.

The database already refuses what must never happen (a venue in use deleted, a tier with sales
deleted, capacity below sold, ends before starts); these functions check first so the answer
names the rule, and map the constraint that fired when a race got there first.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from shop.models import (
    Cart,
    CartItem,
    Category,
    Event,
    EventStatus,
    Order,
    OrderItem,
    OrderStatus,
    Ticket,
    TicketStatus,
    TicketType,
    Venue,
)
from shop.pagination import Page, paginate
from shop.services.availability import held_by_others, live_hold
from shop.services.errors import (
    AlreadyExists,
    CapacityBelowHeld,
    CapacityBelowSold,
    DomainError,
    HasSales,
    InUse,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from shop.services.locking import lock_events, lock_ticket_types
from shop.services.orders import release_seats

# Constraint name -> the error a client should see when it fires.
CONSTRAINT_ERRORS: dict[str, DomainError] = {
    "uq_category_slug": AlreadyExists(
        "A category with this slug exists.", errors={"slug": ["Taken."]}
    ),
    "uq_category_name": AlreadyExists(
        "A category with this name exists.", errors={"name": ["Taken."]}
    ),
    "uq_venue_name_city": AlreadyExists(
        "A venue with this name exists in this city.", errors={"name": ["Taken in this city."]}
    ),
    "uq_ticket_type_event_id_name": AlreadyExists(
        "This event has a ticket type with this name.", errors={"name": ["Taken for this event."]}
    ),
    "fk_event_venue_id_venue": InUse("The venue has events; delete or move them first."),
    "fk_event_category_id_category": InUse("The category has events; delete or move them first."),
    "fk_order_item_ticket_type_id_ticket_type": HasSales(
        "Tickets of this kind were sold, so it cannot be deleted. Cancel the event instead."
    ),
    "fk_order_item_event_id_event": HasSales(
        "This event has sales, so it cannot be deleted. Cancel it instead."
    ),
    "ck_ticket_type_sold_within_capacity": CapacityBelowSold(
        "Capacity cannot go below the tickets already sold."
    ),
    "ck_event_ends_after_starts": ValidationFailed(
        "The event must end after it starts.", errors={"ends_at": ["Must be after the start."]}
    ),
    "ck_ticket_type_sales_window_order": ValidationFailed(
        "The sales window must end after it starts.",
        errors={"sales_end": ["Must be after the sales start."]},
    ),
}


def _explain(error: IntegrityError) -> Exception:
    """The error that explains the constraint that fired (or the original one)."""
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    known = CONSTRAINT_ERRORS.get(constraint or "")
    return type(known)(known.message, errors=known.errors) if known else error


def flush_or_explain(session: Session) -> None:
    """Flush; when a constraint fires, raise the error that explains it. The transaction is
    then aborted: the caller rolls it back (a request's session is rolled back at its end)."""
    try:
        session.flush()
    except IntegrityError as error:
        explained = _explain(error)
        if explained is error:
            raise
        raise explained from error


def _get(session: Session, model, object_id: int, name: str, *, lock: bool = False):
    statement = select(model).where(model.id == object_id)
    if lock:
        # Events: FOR NO KEY UPDATE, which sales inserting rows that reference the event do not
        # conflict with (shop/services/locking.py explains why).
        statement = statement.with_for_update(key_share=model is Event)
    found = session.scalar(statement)
    if found is None:
        raise NotFound(f"There is no {name} {object_id}.")
    return found


def _delete(session: Session, model, object_id: int) -> None:
    """Delete by SQL, so the database's ON DELETE rules (not the ORM) decide what goes along."""
    try:
        session.execute(delete(model).where(model.id == object_id))
    except IntegrityError as error:
        explained = _explain(error)
        if explained is error:
            raise
        raise explained from error


def _apply(obj: Any, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(obj, name, value)


def _require_refs(session: Session, fields: dict[str, Any]) -> None:
    """Unknown venue or category ids are the client's mistake: 422 naming the field."""
    for key, model in (("venue_id", Venue), ("category_id", Category)):
        if key in fields and session.get(model, fields[key]) is None:
            raise ValidationFailed(
                f"There is no {key.removesuffix('_id')} {fields[key]}.",
                errors={key: ["Does not exist."]},
            )


# --- categories and venues ------------------------------------------------------------------------


def create_category(session: Session, fields: dict[str, Any]) -> Category:
    category = Category(**fields)
    session.add(category)
    flush_or_explain(session)
    return category


def update_category(session: Session, category_id: int, fields: dict[str, Any]) -> Category:
    category = _get(session, Category, category_id, "category")
    _apply(category, fields)
    flush_or_explain(session)
    return category


def delete_category(session: Session, category_id: int) -> None:
    category = _get(session, Category, category_id, "category")
    if session.scalar(select(exists().where(Event.category_id == category_id))):
        raise InUse("The category has events; delete or move them first.")
    _delete(session, Category, category.id)


def create_venue(session: Session, fields: dict[str, Any]) -> Venue:
    venue = Venue(**fields)
    session.add(venue)
    flush_or_explain(session)
    return venue


def update_venue(session: Session, venue_id: int, fields: dict[str, Any]) -> Venue:
    venue = _get(session, Venue, venue_id, "venue")
    _apply(venue, fields)
    flush_or_explain(session)
    return venue


def delete_venue(session: Session, venue_id: int) -> None:
    venue = _get(session, Venue, venue_id, "venue")
    if session.scalar(select(exists().where(Event.venue_id == venue_id))):
        raise InUse("The venue has events; delete or move them first.")
    _delete(session, Venue, venue.id)


# --- events -------------------------------------------------------------------------------------


def list_events(session: Session, status: str | None, page: int, page_size: int) -> Page:
    """Every event, drafts and cancelled ones too, soonest first."""
    statement = select(Event).order_by(Event.starts_at, Event.id)
    if status:
        statement = statement.where(Event.status == status)
    return paginate(
        session, statement, page, page_size, options=(selectinload(Event.ticket_types),)
    )


def get_event(session: Session, event_id: int) -> Event:
    event = session.scalar(
        select(Event).where(Event.id == event_id).options(selectinload(Event.ticket_types))
    )
    if event is None:
        raise NotFound(f"There is no event {event_id}.")
    return event


def create_event(session: Session, fields: dict[str, Any]) -> Event:
    """A new event, always a draft: publish it when its ticket types are in place."""
    _require_refs(session, fields)
    event = Event(status=EventStatus.DRAFT, **fields)
    session.add(event)
    flush_or_explain(session)
    return event


def update_event(session: Session, event_id: int, fields: dict[str, Any]) -> Event:
    event = _get(session, Event, event_id, "event", lock=True)
    if event.status == EventStatus.CANCELLED:
        raise InvalidTransition("A cancelled event cannot be changed. Create a new event instead.")
    _require_refs(session, fields)
    starts = fields.get("starts_at", event.starts_at)
    ends = fields.get("ends_at", event.ends_at)
    if ends <= starts:
        raise ValidationFailed(
            "The event must end after it starts.", errors={"ends_at": ["Must be after the start."]}
        )
    _apply(event, fields)
    flush_or_explain(session)
    return event


def delete_event(session: Session, event_id: int) -> None:
    event = _get(session, Event, event_id, "event", lock=True)
    if session.scalar(select(exists().where(OrderItem.event_id == event_id))):
        raise HasSales("This event has sales, so it cannot be deleted. Cancel it instead.")
    _delete(session, Event, event.id)


def publish_event(session: Session, event_id: int) -> Event:
    event = _get(session, Event, event_id, "event", lock=True)
    if event.status != EventStatus.DRAFT:
        raise InvalidTransition(
            f"Only drafts can be published, and this event is {event.status} already:"
            " there is nothing to publish."
        )
    if not session.scalar(select(exists().where(TicketType.event_id == event_id))):
        raise InvalidTransition("Add at least one ticket type before publishing.")
    event.status = EventStatus.PUBLISHED
    flush_or_explain(session)
    return event


def cancel_event(session: Session, event_id: int, now: datetime) -> dict[str, int]:
    """Cancel an event: nothing more can be bought, every valid ticket for it is voided (its
    seat leaves `sold`), and orders with nothing but this event's tickets are cancelled (a mixed
    order stays confirmed for its other events). Returns what was affected.

    Locks follow shop/services/locking.py: the event (checkouts and order cancels of it wait),
    its confirmed orders, its tiers, then the tickets as they are voided. Seats are released for
    exactly the tickets this statement voids, so a ticket scanned or an order cancelled a moment
    earlier is never released twice."""
    event = _get(session, Event, event_id, "event", lock=True)
    if event.status == EventStatus.CANCELLED:
        raise InvalidTransition(
            "This event is already cancelled: its tickets are void, there is nothing more to do."
        )
    event.status = EventStatus.CANCELLED
    session.execute(
        select(Order.id)
        .where(
            Order.status == OrderStatus.CONFIRMED,
            Order.id.in_(select(OrderItem.order_id).where(OrderItem.event_id == event_id)),
        )
        .order_by(Order.id)
        .with_for_update()
    )
    lock_ticket_types(
        session, session.scalars(select(TicketType.id).where(TicketType.event_id == event_id))
    )
    voided_tiers = session.scalars(
        update(Ticket)
        .where(
            Ticket.order_item_id == OrderItem.id,
            OrderItem.event_id == event_id,
            Ticket.status == TicketStatus.VALID,
        )
        .values(status=TicketStatus.VOID, voided_at=now, updated_at=now)
        .returning(OrderItem.ticket_type_id)
        .execution_options(synchronize_session=False)
    ).all()
    release_seats(session, Counter(voided_tiers))
    only_this_event = and_(
        exists().where(OrderItem.order_id == Order.id, OrderItem.event_id == event_id),
        ~exists().where(OrderItem.order_id == Order.id, OrderItem.event_id != event_id),
    )
    cancelled = session.execute(
        update(Order)
        .where(Order.status == OrderStatus.CONFIRMED, only_this_event)
        .values(status=OrderStatus.CANCELLED, cancelled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    flush_or_explain(session)
    return {"tickets_voided": len(voided_tiers), "orders_cancelled": cancelled}


# --- ticket types -----------------------------------------------------------------------------


def create_ticket_type(session: Session, event_id: int, fields: dict[str, Any]) -> TicketType:
    event = _get(session, Event, event_id, "event", lock=True)
    if event.status == EventStatus.CANCELLED:
        raise InvalidTransition(
            "A cancelled event gets no new ticket types. Create a new event instead."
        )
    tier = TicketType(event_id=event.id, currency=event.currency, **fields)
    session.add(tier)
    flush_or_explain(session)
    return tier


def _lock_tier(session: Session, ticket_type_id: int) -> TicketType:
    """Lock a tier for an admin change: its event first, then the tier (the lock order of
    shop/services/locking.py; a price change also updates the event's `price_from`)."""
    event_id = session.scalar(select(TicketType.event_id).where(TicketType.id == ticket_type_id))
    if event_id is None:
        raise NotFound(f"There is no ticket type {ticket_type_id}.")
    lock_events(session, [event_id], to_change=True)
    return _get(session, TicketType, ticket_type_id, "ticket type", lock=True)


def update_ticket_type(session: Session, ticket_type_id: int, fields: dict[str, Any]) -> TicketType:
    """Change a tier. Capacity never goes below the seats sold plus the seats in live holds:
    a hold is a promise, and a cut below it would leave every holder refused at checkout (each
    one's own hold counts for it, everybody else's against it) until the holds lapse."""
    # The same row lock checkout takes: capacity cannot drop below a sale happening right now.
    tier = _lock_tier(session, ticket_type_id)
    capacity = fields.get("capacity", tier.capacity)
    if capacity < tier.sold:
        raise CapacityBelowSold(
            f"{tier.sold} tickets are sold; capacity must be at least that.",
            errors={"capacity": [f"At least {tier.sold}."]},
        )
    if capacity < tier.capacity:
        held = held_by_others(session, [tier.id]).get(tier.id, 0)
        if capacity < tier.sold + held:
            lapse = session.scalar(
                select(func.max(Cart.hold_expires_at))
                .join(CartItem, CartItem.cart_id == Cart.id)
                .where(CartItem.ticket_type_id == tier.id, live_hold())
            )
            minimum = tier.sold + held
            raise CapacityBelowHeld(
                f"{tier.sold} tickets are sold and {held} more are held in carts until"
                f" {lapse.isoformat()} at the latest; capacity must be at least {minimum} now."
                " Lower it after the holds lapse, or to no less than that.",
                errors={"capacity": [f"At least {minimum}."]},
                sold=tier.sold,
                held=held,
                minimum_capacity=minimum,
                holds_lapse_by=lapse,
            )
    start = fields.get("sales_start", tier.sales_start)
    end = fields.get("sales_end", tier.sales_end)
    if start is not None and end is not None and end <= start:
        raise ValidationFailed(
            "The sales window must end after it starts.",
            errors={"sales_end": ["Must be after the sales start."]},
        )
    _apply(tier, fields)
    flush_or_explain(session)
    return tier


def delete_ticket_type(session: Session, ticket_type_id: int) -> None:
    tier = _lock_tier(session, ticket_type_id)
    if tier.sold > 0 or session.scalar(
        select(exists().where(OrderItem.ticket_type_id == ticket_type_id))
    ):
        raise HasSales(
            "Tickets of this kind were sold, so it cannot be deleted. Cancel the event instead."
        )
    _delete(session, TicketType, tier.id)
