"""What a customer does to a cart's lines: add tickets (by tier, or an event's one tier on
sale), set a line's quantity, remove a line, empty the cart.

Each operation starts its change with `begin_change` (shop/services/carts.py: the locks in
order, the hold renewed, a guest cart merged first) and then checks its own rules: the tier on
sale, one currency per cart, `max_lines`, `max_per_order`, the seats left and the per-address
cap. Functions take explicit arguments and never commit; the route commits once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, inspect, select, text, update
from sqlalchemy.orm import Session, make_transient, make_transient_to_detached

from shop.models import Cart, CartItem, Event, EventStatus, TicketType
from shop.services.availability import live_hold
from shop.services.carts import (
    ADDRESS_LOCK,
    MAX_LINE_QUANTITY,
    REMOVE_LINES,
    START_COLUMNS,
    USER_CART_LOCKED,
    CartChange,
    CartLine,
    CartOutcome,
    CartOwner,
    HoldPolicy,
    LockedTier,
    available_for,
    begin_change,
    cart_currency,
    change_address,
    release_hold_if_empty,
    start_change,
    start_parameters,
)
from shop.services.catalog import tier_on_sale
from shop.services.errors import (
    AddressHoldLimit,
    CartItemNotFound,
    CartLineLimit,
    CartNotFound,
    CurrencyMismatch,
    EventNotFound,
    InsufficientAvailability,
    NotOnSale,
    QuantityOverLimit,
    TicketTypeNotFound,
    ValidationFailed,
)

# A tier by id (its id and its event's, not a draft's), with the columns that start a change:
# add_item's first round trip does both. Plain columns, not the ORM object: the change locks
# and reads the tier again (`begin_change`), and everything is judged on that read, so this
# one only has to say which tier (building the objects cost more CPU than the query).
_START_WITH_TIER = (
    select(TicketType.id, TicketType.event_id, *START_COLUMNS)
    .join(TicketType.event)
    .where(TicketType.id == bindparam("tier_id"), Event.status != EventStatus.DRAFT)
)
_START_FOR_ADDRESS_WITH_TIER = _START_WITH_TIER.add_columns(ADDRESS_LOCK)
# A signed-in add that sends no guest token starts with its cart: one round trip starts the
# change, says which tier (its event's id, NULL when there is no such tier or it is a draft's)
# and locks the user's active cart, the first lock of this change in the global order (no
# address lock: that is for guests; no guest cart to lock before it). It returns no row when
# the user has no active cart yet: add_item then starts the usual way and begin_change creates
# the cart. The tier read takes no lock, as in _START_WITH_TIER. (`lock_timeout` bounds the
# cart lock's wait even if PostgreSQL evaluated set_config after taking it: every connection
# starts with the same timeout, shop/__init__.py.)
_TIER_EVENT_ID = (
    select(TicketType.event_id)
    .join(TicketType.event)
    .where(TicketType.id == bindparam("tier_id"), Event.status != EventStatus.DRAFT)
    .scalar_subquery()
    .label("tier_event_id")
)
_START_WITH_USER_CART = USER_CART_LOCKED.add_columns(*START_COLUMNS, _TIER_EVENT_ID)


def resolve_ticket_type(
    session: Session,
    policy: HoldPolicy,
    address: str | None,
    *,
    event_id: int | None,
    ticket_type_id: int | None,
) -> tuple[int, datetime]:
    """The id of the tier a POST /api/cart/items means (by id, or an event's single on-sale
    tier) and the time of the change, which this starts (`start_change`). A tier named by id
    is read in the same round trip as the change starts: that read takes no lock, so the
    address lock is still the first lock taken."""
    if ticket_type_id is not None:
        statement = _START_WITH_TIER if address is None else _START_FOR_ADDRESS_WITH_TIER
        # Plain columns: run on the session's connection, past the ORM's execute (autoflush,
        # events, object loading), which costs more CPU than this statement's round trip.
        row = (
            session.connection()
            .execute(statement, {**start_parameters(policy, address), "tier_id": ticket_type_id})
            .first()
        )
        _check_named_tier(ticket_type_id, event_id, None if row is None else row.event_id)
        assert row is not None  # (_check_named_tier refused it otherwise)
        return row.id, row.now
    now = start_change(session, policy, address)
    event = session.scalar(
        select(Event).where(Event.id == event_id, Event.status != EventStatus.DRAFT)
    )
    if event is None:
        raise EventNotFound(f"There is no event {event_id}.")
    tiers = list(
        session.scalars(
            select(TicketType).where(TicketType.event_id == event_id).order_by(TicketType.id)
        )
    )
    on_sale = [tier for tier in tiers if tier_on_sale(event, tier, now)]
    if not on_sale:
        raise NotOnSale(f"No tickets for event {event_id} are on sale now.", event_id=event_id)
    if len(on_sale) > 1:
        raise ValidationFailed(
            f"Event {event_id} has {len(on_sale)} ticket types on sale; say which ticket type.",
            errors={
                "ticket_type_id": [f"Required: one of {', '.join(str(t.id) for t in on_sale)}."]
            },
        )
    return on_sale[0].id, now


def _check_named_tier(ticket_type_id: int, event_id: int | None, tier_event_id: int | None) -> None:
    """Refuse a tier named by id that does not exist or is a draft event's (`tier_event_id`
    None: 404), or that is not a tier of the event the request also named (422)."""
    if tier_event_id is None:
        raise TicketTypeNotFound(f"There is no ticket type {ticket_type_id}.")
    if event_id is not None and tier_event_id != event_id:
        raise ValidationFailed(
            f"Ticket type {ticket_type_id} belongs to event {tier_event_id}, not {event_id}."
            " Send the ticket type alone, or with the event it belongs to.",
            errors={"ticket_type_id": [f"Not a ticket type of event {event_id}."]},
        )


def _start_with_user_cart(
    session: Session,
    policy: HoldPolicy,
    user_id: int,
    *,
    event_id: int | None,
    ticket_type_id: int,
) -> tuple[Cart, datetime] | None:
    """Start a signed-in add of a tier named by id with the user's active cart locked
    (`_START_WITH_USER_CART`): the cart and the change's time, or None when the user has no
    active cart (the caller starts the usual way and creates it)."""
    parameters = {**start_parameters(policy, None), "user_id": user_id, "tier_id": ticket_type_id}
    # (`.keys()`: IdentityMap is typed without `__iter__`.)
    holds_a_cart = any(key[0] is Cart for key in session.identity_map.keys())  # noqa: SIM118
    if holds_a_cart:
        # The session already holds a cart (a second change in one transaction: tests and
        # scripts): the ORM's own loading refreshes it (`populate_existing`).
        row = session.execute(_START_WITH_USER_CART, parameters).first()
        if row is None:
            return None
        _check_named_tier(ticket_type_id, event_id, row.tier_event_id)
        return row.Cart, row.now
    row = session.connection().execute(_START_WITH_USER_CART, parameters).first()
    if row is None:
        return None
    _check_named_tier(ticket_type_id, event_id, row.tier_event_id)
    return _cart_as_read(session, row), row.now


# Fast path (_cart_as_read): the cart's columns, which are also its attributes' names.
_CART_COLUMNS = tuple(column.key for column in Cart.__table__.columns)


def _cart_as_read(session: Session, row: Row[Any]) -> Cart:
    """The cart in `row` (a plain-columns read of `_START_WITH_USER_CART`) as the ORM object the
    change goes on with, as if the session had loaded it.

    Why by hand: the ORM's loading (the statement through `session.execute`, its result turned
    into an object) cost ~170 µs more CPU than the round trip on the session's connection. Every
    column is set, and `make_transient_to_detached` takes the values as the stored ones (a row
    as read, nothing to write), so `session.add` makes it an ordinary persistent object: the
    change writes it, the commit expires it. Only when no cart is in the session (checked by the
    caller), so it never stands beside another copy of the same row."""
    values = row._mapping
    cart = Cart(**{column: values[column] for column in _CART_COLUMNS})
    make_transient_to_detached(cart)
    session.add(cart)
    return cart


def _check_quantity(session: Session, change: CartChange, tier: LockedTier, quantity: int) -> None:
    """Refuse a line quantity over the per-order maximum (422) or over what is left (409)."""
    if quantity > tier.max_per_order:
        raise QuantityOverLimit(
            f"You can buy at most {tier.max_per_order} {tier.name} tickets per order. Lower the"
            f" quantity to at most {tier.max_per_order}.",
            errors={"quantity": [f"At most {tier.max_per_order} per order."]},
        )
    available = available_for(session, change, [change.cart.id])[tier.id]
    if quantity > available:
        raise InsufficientAvailability(
            f"Only {available} {tier.name} tickets are left; you asked for {quantity}. Lower the"
            f" quantity to at most {available}.",
            errors={"quantity": [f"At most {available} available."]},
            available=available,
        )


# Seats in live holds of an address's other guest carts.
_HELD_BY_ADDRESS_ELSEWHERE = (
    select(func.coalesce(func.sum(CartItem.quantity), 0))
    .join(Cart, Cart.id == CartItem.cart_id)
    .where(
        Cart.client_address == bindparam("address"),
        Cart.user_id.is_(None),
        Cart.id != bindparam("cart_id"),
        live_hold(),
    )
)


def _check_address_hold(
    session: Session, change: CartChange, policy: HoldPolicy, cart_seats: int
) -> None:
    """Refuse a guest change that would make its client address hold more than
    `policy.max_seats_per_address` seats across all its guest carts with a live hold.
    `cart_seats`: what this cart would hold after the change. Runs under the address's
    advisory lock (taken by begin_change), so concurrent adds are counted one after another."""
    cart = change.cart
    if cart.user_id is not None or cart.client_address is None:
        return
    elsewhere = change.address_held  # read with the cart's lines when the change began
    if elsewhere is None:
        elsewhere = session.execute(
            _HELD_BY_ADDRESS_ELSEWHERE, {"address": cart.client_address, "cart_id": cart.id}
        ).scalar_one()
    limit = policy.max_seats_per_address
    if elsewhere + cart_seats > limit:
        raise AddressHoldLimit(
            f"Guest carts from your address may hold at most {limit} seats in all and hold"
            f" {elsewhere + _cart_seats(change)} now. Sign in (a signed-in cart is not limited"
            " by address), check out, or wait until those holds lapse.",
            limit=limit,
        )


def _cart_seats(change: CartChange) -> int:
    return sum(line.quantity for line in change.lines)


def _ensure_on_sale(tier: LockedTier, now: datetime) -> None:
    event = tier.event
    if not tier_on_sale(event, tier, now):
        if event.status == EventStatus.CANCELLED:
            raise NotOnSale(
                f"{tier.name} for {event.title} is not on sale now (the event is cancelled)."
                " Choose another event."
            )
        raise NotOnSale(f"{tier.name} for {event.title} is not on sale now.", event_id=event.id)


def add_item(
    session: Session,
    owner: CartOwner,
    policy: HoldPolicy,
    *,
    event_id: int | None,
    ticket_type_id: int | None,
    quantity: int,
) -> CartOutcome:
    """Put `quantity` tickets of a tier in the cart (raising the line if the tier is there)."""
    user_cart = None
    if ticket_type_id is not None and owner.user_id is not None and owner.guest_token is None:
        started = _start_with_user_cart(
            session, policy, owner.user_id, event_id=event_id, ticket_type_id=ticket_type_id
        )
        if started is not None:
            (user_cart, now), tier_id = started, ticket_type_id
    if user_cart is None:
        tier_id, now = resolve_ticket_type(
            session,
            policy,
            change_address(owner, adds_seats=True),
            event_id=event_id,
            ticket_type_id=ticket_type_id,
        )
    change = begin_change(
        session,
        owner,
        policy,
        extra_tier_ids={tier_id},
        now=now,
        adds_seats=True,
        user_cart=user_cart,
    )
    if tier_id not in change.tiers:
        # Deleted (with its event, or alone) by an admin after the unlocked read above and
        # before the lock: it is gone, as if the read had come a moment later.
        raise TicketTypeNotFound(f"There is no ticket type {tier_id}.")
    tier = change.tiers[tier_id]
    _ensure_on_sale(tier, change.now)
    lines = {line.ticket_type_id: line for line in change.lines}
    currency = cart_currency(change, lines.values())
    if currency is not None and tier.currency != currency:
        raise CurrencyMismatch(
            f"Your cart is in {currency} and {tier.name} is priced in {tier.currency}."
            " Check out first, then buy it in a separate order."
        )
    line = lines.get(tier.id)
    if line is None and len(lines) >= policy.max_lines:
        raise CartLineLimit(
            f"A cart has at most {policy.max_lines} lines. Check out, then buy"
            f" {tier.name} in a second order (or remove a line first).",
            limit=policy.max_lines,
        )
    wanted = quantity + (line.quantity if line else 0)
    if wanted > MAX_LINE_QUANTITY:
        raise QuantityOverLimit(errors={"quantity": [f"At most {MAX_LINE_QUANTITY} per line."]})
    _check_quantity(session, change, tier, wanted)
    _check_address_hold(session, change, policy, _cart_seats(change) + quantity)
    # The customer has just seen the current price: the line takes it.
    line_id = _write_hold_and_line(session, change, tier, wanted)
    written = CartLine(line_id, tier.id, tier.event_id, wanted, tier.price)
    _put_line(change, written)
    return change.outcome(lines_known=True)


def _put_line(change: CartChange, written: CartLine) -> None:
    """Keep `change.lines` what the cart now holds: `written` replaces the line with its id, or
    comes last (a new line has the highest id)."""
    for index, line in enumerate(change.lines):
        if line.id == written.id:
            change.lines[index] = written
            return
    change.lines.append(written)


# What a change writes on its cart: the hold (_renew_hold), the address a guest cart moved to,
# and its version (`updated_at`, which checkout compares).
_CART_CHANGE_COLUMNS = (
    "hold_started_at",
    "hold_renewals",
    "hold_expires_at",
    "client_address",
    "updated_at",
)
# What else a cart change may leave unwritten (say, `user_id`: a guest cart handed to the user
# who signed in): the ORM flushes that before the hand-written statement.
_CART_KEYS_NOT_WRITTEN_HERE = frozenset(inspect(Cart).attrs.keys()) - set(_CART_CHANGE_COLUMNS)
# An add's writes in one round trip: the cart (its hold renewed, its version moved on) and the
# line (new, or raised: the line of that tier, which the cart's lock keeps from changing under
# us). The ORM's unit of work would send them as two statements, and spend more CPU working out
# what changed than PostgreSQL spends running them.
_WRITE_HOLD_AND_LINE = text(
    """
    WITH cart_written AS (
        UPDATE cart SET hold_started_at = :hold_started_at, hold_renewals = :hold_renewals,
                        hold_expires_at = :hold_expires_at, client_address = :client_address,
                        updated_at = :updated_at
        WHERE id = :cart_id
        RETURNING id
    )
    INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)
    SELECT id, :event_id, :ticket_type_id, :quantity, :unit_price FROM cart_written
    ON CONFLICT (cart_id, ticket_type_id)
        DO UPDATE SET quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price,
                      updated_at = now()
    RETURNING id, cart_id
    """
)
# The same for a guest's first add: the new cart is inserted (not updated) with its hold, in the
# same round trip as its line. The ORM would insert it in a flush of its own (another round
# trip), and spend more CPU on that flush than PostgreSQL spends on both inserts.
_INSERT_CART_AND_LINE = text(
    """
    WITH cart_written AS (
        INSERT INTO cart (guest_token_hash, status, hold_started_at, hold_renewals,
                          hold_expires_at, client_address, created_at, updated_at)
        VALUES (:guest_token_hash, :status, :hold_started_at, :hold_renewals,
                :hold_expires_at, :client_address, :updated_at, :updated_at)
        RETURNING id
    )
    INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)
    SELECT id, :event_id, :ticket_type_id, :quantity, :unit_price FROM cart_written
    RETURNING id, cart_id
    """
)


def _write_hold_and_line(
    session: Session, change: CartChange, tier: LockedTier, quantity: int
) -> int:
    """Write the cart's changes and its line of `tier` (`quantity` seats at the tier's price)
    in one statement; returns the line's id.

    The cart is an ORM object whose changes (from begin_change) are written here by hand, so the
    session is then told that the values it holds are the stored ones (see below): the route's
    commit finds nothing left to flush. Anything else begin_change left unwritten
    (a guest cart handed to the user who signed in changes its `user_id`) is flushed first, the
    ORM's usual way. A new guest cart (no id yet: begin_change left it to this write) is
    inserted with the line instead."""
    cart = change.cart
    new_cart = cart.id is None
    values = {column: getattr(cart, column) for column in _CART_CHANGE_COLUMNS}
    if new_cart:
        statement = _INSERT_CART_AND_LINE
        values |= {"guest_token_hash": cart.guest_token_hash, "status": cart.status.value}
    else:
        statement = _WRITE_HOLD_AND_LINE
        # (`unmodified`: the keys with no pending change, read off the object's state without
        # computing every attribute's history.)
        if not inspect(cart).unmodified >= _CART_KEYS_NOT_WRITTEN_HERE:
            session.flush()
        values["cart_id"] = cart.id
    # (On the session's connection, past session.execute: the session's autoflush would write
    # the cart's changes first, on their own.)
    written = (
        session.connection()
        .execute(
            statement,
            {
                **values,
                "event_id": tier.event_id,
                "ticket_type_id": tier.id,
                "quantity": quantity,
                "unit_price": tier.price,
            },
        )
        .one()
    )
    if new_cart:
        # What the insert stored: its id, and `created_at` is the change's clock like `updated_at`.
        cart.id, cart.created_at = written.cart_id, cart.updated_at
    # The session must now take the cart as stored. `set_committed_value` would make each value
    # committed but leave the object flagged as modified, and the route's commit would then run
    # a whole (empty) flush for it: ~100-300 µs of CPU for nothing. Taking the object out of the
    # session (`make_transient`, this object alone, no cascade) and back in as a row as read
    # (`make_transient_to_detached`, what add_item does for a new line) marks it clean: the
    # commit finds nothing to flush. Everything it holds is what the statement above stored
    # (anything else was flushed before it).
    make_transient(cart)
    make_transient_to_detached(cart)
    session.add(cart)
    line_id: int = written.id
    return line_id


def _owned_line(change: CartChange, item_id: int) -> CartLine:
    item_id = change.moved.get(item_id, item_id)  # a guest line merged just now
    line = next((line for line in change.lines if line.id == item_id), None)
    if line is None:
        raise CartItemNotFound()
    return line


# A line's new quantity at the current price (set_quantity): the lines are plain values
# (CartLine), written by hand. (remove_item deletes with the re-check's REMOVE_LINES.)
_SET_LINE = (
    update(CartItem)
    .where(CartItem.id == bindparam("line_id"))
    .values(quantity=bindparam("new_quantity"), unit_price=bindparam("new_price"))
)


def set_quantity(
    session: Session, owner: CartOwner, policy: HoldPolicy, *, item_id: int, quantity: int
) -> CartOutcome:
    """Set a line's quantity. Another cart's line is a 404, like a line that does not exist."""
    change = begin_change(
        session, owner, policy, create=False, missing=CartItemNotFound, adds_seats=True
    )
    line = _owned_line(change, item_id)
    tier = change.tiers[line.ticket_type_id]
    if quantity > line.quantity:
        _ensure_on_sale(tier, change.now)
        _check_address_hold(session, change, policy, _cart_seats(change) - line.quantity + quantity)
    _check_quantity(session, change, tier, quantity)
    # (The cart's renewed hold is the ORM's to write: the route's commit flushes it.)
    session.connection().execute(
        _SET_LINE, {"line_id": line.id, "new_quantity": quantity, "new_price": tier.price}
    )
    _put_line(change, line._replace(quantity=quantity, unit_price=tier.price))
    return change.outcome(lines_known=True)


def remove_item(
    session: Session, owner: CartOwner, policy: HoldPolicy, *, item_id: int
) -> CartOutcome:
    change = begin_change(session, owner, policy, create=False, missing=CartItemNotFound)
    line = _owned_line(change, item_id)
    session.connection().execute(REMOVE_LINES, {"line_ids": [line.id]})
    change.lines.remove(line)
    release_hold_if_empty(change)
    return change.outcome(lines_known=True)


def empty_cart(session: Session, owner: CartOwner, policy: HoldPolicy) -> CartOutcome:
    """Remove every line and release the hold (the cart itself stays, empty). A signed-in user
    without a cart gets an empty cart: emptying twice is harmless."""
    try:
        change = begin_change(session, owner, policy, create=False)
    except CartNotFound:
        if owner.user_id is not None:
            return CartOutcome(cart=None)
        raise
    session.execute(delete(CartItem).where(CartItem.cart_id == change.cart.id))
    session.execute(update(Cart).where(Cart.id == change.cart.id).values(hold_expires_at=None))
    session.expire(change.cart)
    return change.outcome()
