"""Carts and seat holds.

The lines of an active cart whose `hold_expires_at` is in the future hold their seats: public
availability is `capacity - sold - seats held by other carts`. Every change to a cart locks, in
one fixed order, the cart rows involved (ascending id) and then every ticket type involved
(ascending id) — the same order checkout uses — so two carts can never hold more seats than
exist, concurrent changes to one line never lose an update, and no two transactions wait on each
other in a cycle. Lock waits are bounded by `lock_timeout`.

Holds are a scarce resource with owners (`HoldPolicy`, from config): a cart has at most
`max_lines` lines; one client address holds at most `max_seats_per_address` seats across all its
guest carts; a signed-in customer holds at most a tier's `max_per_order` (one cart per user, one
line per tier); and a hold's whole life is bounded by `max_minutes` from the cart's first hold,
however often it lapses and restarts. These are business rules, not rate limits: they hold with
rate limiting switched off.

Functions take explicit arguments and never commit; the route commits once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Integer, bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session, contains_eager

from shop.errors import (
    AddressHoldLimit,
    CartItemNotFound,
    CartLineLimit,
    CartNotFound,
    CurrencyMismatch,
    EventNotFound,
    GuestCartNotFound,
    InsufficientAvailability,
    NotFound,
    NotOnSale,
    QuantityOverLimit,
    TicketTypeNotFound,
    ValidationFailed,
)
from shop.models import Cart, CartItem, Event, TicketType
from shop.schemas import DEFAULT_CURRENCY
from shop.services.availability import (
    held_by_others,
    held_by_others_scalar,
    live_hold,
    seats_left,
)
from shop.services.catalog import tier_on_sale

GUEST_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_LINE_QUANTITY = 100


# Advisory lock class for "seats held by one client address" (the second key is a hash of
# the address): concurrent adds from one address take turns, so together they cannot pass the cap.
ADDRESS_LOCK_CLASS = 1101


@dataclass(frozen=True)
class HoldPolicy:
    """How long a change holds the cart's seats (`minutes`), how often changes may renew the
    hold, how long a hold may live in all (`max_minutes` from the cart's first hold), how many
    lines a cart may have, how many seats one client address may hold in guest carts, and how
    long a change may wait for a row lock."""

    minutes: int = 15
    max_renewals: int = 8
    max_minutes: int = 60
    max_lines: int = 20
    max_seats_per_address: int = 20
    lock_timeout_ms: int = 3000


@dataclass(frozen=True)
class CartOwner:
    """Who is asking: a signed-in user, a guest with a cart token, both, or neither; and from
    which client address (guest carts are capped per address)."""

    user_id: int | None = None
    guest_token: str | None = None
    client_address: str | None = None


@dataclass
class CartOutcome:
    """The cart after a request, what the request changed that the client should know about,
    and the guest token to hand back (None for signed-in carts)."""

    cart: Cart | None
    warnings: list[dict] = field(default_factory=list)
    guest_token: str | None = None
    created: bool = False
    merged_lines: int = 0  # lines a guest cart sent along brought into this cart


def new_guest_token() -> str:
    """43 URL-safe characters (256 random bits); only its SHA-256 is stored."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _warning(code: str, detail: str, item_id: int | None = None, **extra) -> dict:
    warning = {"code": code, "detail": detail, **extra}
    if item_id is not None:
        warning["item_id"] = item_id
    return warning


# --- finding carts ---------------------------------------------------------------------------

# The statements every cart request runs are built once, at import, with named parameters:
# building a statement and computing its cache key cost more CPU than PostgreSQL spends running
# these small queries (the catalogue does the same: docs/decisions.md, "Statements compiled once").
_GUEST_CART = select(Cart).where(Cart.guest_token_hash == bindparam("token_hash"))
_GUEST_CART_LOCKED = _GUEST_CART.with_for_update()
_USER_CART = select(Cart).where(Cart.user_id == bindparam("user_id"), Cart.status == "active")
_USER_CART_LOCKED = _USER_CART.with_for_update()
_CART_LINES = select(CartItem).where(CartItem.cart_id == bindparam("cart_id")).order_by(CartItem.id)


def _guest_cart(session: Session, token: str | None, *, lock: bool) -> Cart | None:
    if not token or not GUEST_TOKEN_PATTERN.match(token):
        return None
    statement = _GUEST_CART_LOCKED if lock else _GUEST_CART
    return session.scalar(statement, {"token_hash": hash_token(token)})


def _user_cart(session: Session, user_id: int, *, lock: bool) -> Cart | None:
    statement = _USER_CART_LOCKED if lock else _USER_CART
    return session.scalar(statement, {"user_id": user_id})


def _is_open_guest_cart(cart: Cart | None) -> bool:
    return cart is not None and cart.status == "active" and cart.user_id is None


def find_cart(session: Session, owner: CartOwner, policy: HoldPolicy) -> CartOutcome:
    """The cart a read request sees. Nothing changes, except that a signed-in request carrying
    an open guest cart's token merges it first, so the answer shows the one cart checkout buys.

    A guest token that matches no open guest cart is a 404 — unless the request is signed in,
    where a stale token (already merged, or someone else's) is simply ignored: asking again
    after a merge changes nothing."""
    if owner.user_id is not None:
        if _is_open_guest_cart(_guest_cart(session, owner.guest_token, lock=False)):
            return merge_guest_cart(session, owner.user_id, owner.guest_token, policy)
        return CartOutcome(cart=_user_cart(session, owner.user_id, lock=False))
    if owner.guest_token is None:
        return CartOutcome(cart=None)
    guest = _guest_cart(session, owner.guest_token, lock=False)
    if not _is_open_guest_cart(guest):
        raise GuestCartNotFound()
    return CartOutcome(cart=guest, guest_token=owner.guest_token)


# --- changing carts --------------------------------------------------------------------------


@dataclass
class _Change:
    """A cart locked for a change, with the ticket types involved locked too."""

    cart: Cart
    tiers: dict[int, TicketType]
    now: datetime
    warnings: list[dict]
    guest_token: str | None
    created: bool
    # Guest line id -> the line that now carries its seats (a merge may combine lines).
    moved: dict[int, int] = field(default_factory=dict)
    # The cart's lines once merged and re-checked (loaded once; the operations reuse them).
    lines: list[CartItem] = field(default_factory=list)

    def outcome(self) -> CartOutcome:
        return CartOutcome(
            self.cart, self.warnings, self.guest_token, self.created, merged_lines=len(self.moved)
        )


# Array parameters keep one SQL text for any number of carts and tiers.
_LOCK_TIERS = (
    select(TicketType)
    .where(
        or_(
            TicketType.id.in_(
                select(CartItem.ticket_type_id).where(
                    CartItem.cart_id == func.any(bindparam("cart_ids", type_=ARRAY(Integer)))
                )
            ),
            TicketType.id == func.any(bindparam("tier_ids", type_=ARRAY(Integer))),
        )
    )
    .order_by(TicketType.id)
    .with_for_update()
)


def _lock_tiers(
    session: Session, cart_ids: list[int], extra_tier_ids: set[int]
) -> dict[int, TicketType]:
    """Lock, by ascending id, every ticket type in these carts' lines plus `extra_tier_ids`:
    one statement (the lines' tiers are a subquery, not a round trip of their own)."""
    if not cart_ids and not extra_tier_ids:
        return {}
    rows = session.scalars(
        _LOCK_TIERS, {"cart_ids": list(cart_ids), "tier_ids": sorted(extra_tier_ids)}
    )
    return {tier.id: tier for tier in rows}


# What starts a change (see start_change): bound lock waits, read the clock, and for an
# anonymous add the client address's lock.
_START_COLUMNS = (
    func.set_config("lock_timeout", bindparam("lock_timeout"), True).label("lock_timeout"),
    func.now().label("now"),
)
_ADDRESS_LOCK = func.pg_advisory_xact_lock(
    ADDRESS_LOCK_CLASS, func.hashtext(bindparam("address"))
).label("address_lock")
_START = select(*_START_COLUMNS)
_START_FOR_ADDRESS = select(*_START_COLUMNS, _ADDRESS_LOCK)


def _start_parameters(policy: HoldPolicy, address: str | None) -> dict:
    parameters = {"lock_timeout": f"{int(policy.lock_timeout_ms)}ms"}
    if address is not None:
        parameters["address"] = address
    return parameters


def start_change(session: Session, policy: HoldPolicy, address: str | None = None) -> datetime:
    """The first statement of every cart change, one round trip: bound lock waits for this
    transaction (`set_config(..., true)` is SET LOCAL), read the transaction's clock, and — for
    an anonymous change that may hold more seats — take its client address's lock, first in
    the lock order (before any cart or ticket type), so it cannot deadlock."""
    statement = _START if address is None else _START_FOR_ADDRESS
    return session.execute(statement, _start_parameters(policy, address)).one().now


def change_address(owner: CartOwner, adds_seats: bool) -> str | None:
    """The client address whose seat cap a change counts against: anonymous changes that may
    hold more seats."""
    return owner.client_address if owner.user_id is None and adds_seats else None


def _lines(session: Session, cart_id: int) -> list[CartItem]:
    return list(session.scalars(_CART_LINES, {"cart_id": cart_id}))


def begin_change(
    session: Session,
    owner: CartOwner,
    policy: HoldPolicy,
    *,
    extra_tier_ids: set[int] = frozenset(),
    create: bool = True,
    missing: type[NotFound] = CartNotFound,
    now: datetime | None = None,
    adds_seats: bool = False,
) -> _Change:
    """Lock (or create) the owner's cart, merge a guest cart into a signed-in user's, lock every
    ticket type involved, and renew or restart the hold. Raises CartNotFound for a dead guest
    token on an anonymous request.

    `adds_seats`: the change may hold more seats. An anonymous one then first takes the lock of
    its client address, so concurrent adds from one address are counted one after the other."""
    address = change_address(owner, adds_seats)
    # A caller that already started the change (add_item: it resolves the tier first) passes
    # the time start_change read; now() is the transaction's start time either way.
    now = now or start_change(session, policy, address)
    warnings: list[dict] = []
    guest_token = None
    created = False

    guest = None
    if owner.guest_token is not None:
        guest = _guest_cart(session, owner.guest_token, lock=True)
        if not _is_open_guest_cart(guest):
            if owner.user_id is None:
                raise GuestCartNotFound()
            guest = None  # signed in: a stale guest token is harmless

    if owner.user_id is not None:
        cart = _user_cart(session, owner.user_id, lock=True)
        if cart is None and guest is not None:
            # Nothing to merge into: the guest cart becomes the user's, its token stops working.
            guest.user_id = owner.user_id
            cart, guest = guest, None
        elif cart is None:
            if not create:
                raise missing()
            session.execute(
                insert(Cart)
                .values(user_id=owner.user_id, status="active")
                .on_conflict_do_nothing(
                    index_elements=["user_id"],
                    index_where=text("status = 'active' AND user_id IS NOT NULL"),
                )
            )
            cart = _user_cart(session, owner.user_id, lock=True)
            created = True
    elif guest is not None:
        cart, guest, guest_token = guest, None, owner.guest_token
        if address is not None and cart.client_address != address:
            # The seats it adds count for the address that adds them: the cart moves along.
            cart.client_address = address
    else:
        if not create:
            raise missing()
        guest_token = new_guest_token()
        # Added to the session only once its hold is set below: one INSERT, no UPDATE.
        cart = Cart(
            guest_token_hash=hash_token(guest_token), status="active", client_address=address
        )
        created = True

    # The guest cart (if merging) was locked before the user's cart; both are locked before any
    # ticket type, in the same order checkout uses.
    cart_ids = [c.id for c in (cart, guest) if c is not None and c.id is not None]
    tiers = _lock_tiers(session, cart_ids, set(extra_tier_ids))
    change = _Change(cart, tiers, now, warnings, guest_token, created)
    if guest is not None:
        _merge(session, change, guest, policy)
    if cart.id is not None:  # (a new guest cart has no lines yet)
        change.lines = _lines(session, cart.id)
    _renew_hold(session, change, policy)
    if cart.id is None:
        session.add(cart)
        session.flush()
    return change


def _available_for(session: Session, change: _Change, exclude: list[int]) -> dict[int, int]:
    """Seats per locked tier that no other cart holds (`exclude`: carts whose holds are ours)."""
    if not change.tiers:
        return {}
    held = held_by_others(session, change.tiers, exclude)
    return {
        tier_id: seats_left(tier.capacity, tier.sold, held.get(tier_id, 0))
        for tier_id, tier in change.tiers.items()
    }


def _merge(session: Session, change: _Change, guest: Cart, policy: HoldPolicy) -> None:
    """Move the guest cart's lines into the user's cart: quantities add up, capped by what is
    available, by the tier's per-order maximum and by the cart's line limit; every cap becomes a
    warning. A line the user's cart lacks moves over as it is (keeping its id), so a request
    naming a guest line by id still finds it after the merge."""
    available = _available_for(session, change, [change.cart.id, guest.id])
    mine = {line.ticket_type_id: line for line in _lines(session, change.cart.id)}
    currency = _cart_currency(change, mine.values())
    capped: list[tuple[dict, CartItem]] = []
    for line in _lines(session, guest.id):
        tier = change.tiers[line.ticket_type_id]
        if currency is not None and tier.currency != currency:
            change.warnings.append(
                _warning(
                    "currency_mismatch",
                    f"{tier.name} is priced in {tier.currency}, your cart in {currency}; it was"
                    " left out. Buy it in a separate order.",
                )
            )
            continue
        target = mine.get(line.ticket_type_id)
        if target is None and len(mine) >= policy.max_lines:
            change.warnings.append(
                _warning(
                    "cart_line_limit",
                    f"{tier.name} was left out: a cart has at most {policy.max_lines} lines."
                    " Check out, then buy the rest in a second order.",
                )
            )
            continue
        wanted = line.quantity + (target.quantity if target else 0)
        allowed = min(wanted, tier.max_per_order, available[tier.id])
        if allowed == 0:
            change.warnings.append(
                _warning("sold_out", f"{tier.name} is sold out; it was not added to your cart.")
            )
            continue
        if target is None:
            line.cart_id = change.cart.id  # the line itself moves: same id, same price
            line.quantity = allowed
            target = mine[tier.id] = line
        else:
            target.quantity = allowed
        change.moved[line.id] = target.id
        if allowed < wanted:
            reason = "the per-order limit" if allowed == tier.max_per_order else "the seats left"
            warning = _warning(
                "quantity_capped",
                f"{tier.name}: {wanted} wanted after merging your carts, {allowed} kept"
                f" ({reason}).",
                requested=wanted,
                kept=allowed,
            )
            change.warnings.append(warning)
            capped.append((warning, target))
    session.flush()  # moved lines leave the guest cart before what is left of it is deleted
    session.execute(delete(CartItem).where(CartItem.cart_id == guest.id))
    guest.status = "merged"
    guest.user_id = change.cart.user_id
    guest.hold_expires_at = None
    session.flush()
    for warning, target in capped:
        warning["item_id"] = target.id


def _cart_currency(change: _Change, lines) -> str | None:
    for line in lines:
        tier = change.tiers.get(line.ticket_type_id)
        if tier is not None:
            return tier.currency
    return None


def _renew_hold(session: Session, change: _Change, policy: HoldPolicy) -> None:
    """A change holds the seats for `policy.minutes` more: the first hold starts the cart's hold
    life; later changes renew it (also after it lapsed, once every line is re-checked against
    what is left) at most `policy.max_renewals` times and never past `policy.max_minutes` after
    the first hold. Lapsing and restarting resets neither bound, so no one can hold seats
    indefinitely by changing a cart now and then. A cart past those bounds still works: its
    seats are simply not held, and checkout re-checks every line."""
    cart = change.cart
    starting = cart.hold_started_at is None
    if starting:
        cart.hold_started_at = change.now
    last_possible = cart.hold_started_at + timedelta(minutes=policy.max_minutes)
    lapsed = cart.hold_expires_at is None or cart.hold_expires_at <= change.now
    if lapsed:
        _recheck_lines(session, change)
    if starting or (cart.hold_renewals < policy.max_renewals and change.now < last_possible):
        if not starting:
            cart.hold_renewals += 1
        cart.hold_expires_at = min(change.now + timedelta(minutes=policy.minutes), last_possible)
    elif lapsed:
        change.warnings.append(
            _warning(
                "hold_limit_reached",
                f"Your cart no longer holds seats: a cart holds them for at most"
                f" {policy.max_minutes} minutes in all ({policy.max_renewals} renewals). Check"
                " out to buy what is still available; checkout re-checks every line.",
            )
        )
    else:
        change.warnings.append(
            _warning(
                "hold_not_renewed",
                "Your seats stay held until the time in holdExpiresAt but"
                " will not be extended again. Check out before then.",
            )
        )
    cart.updated_at = change.now


def _recheck_lines(session: Session, change: _Change) -> None:
    """After a hold lapsed, others may have bought or held the seats: cap or drop lines."""
    lines = change.lines
    if not lines:
        return
    available = _available_for(session, change, [change.cart.id])
    for line in lines:
        tier = change.tiers[line.ticket_type_id]
        left = available[tier.id]
        if left == 0:
            change.warnings.append(
                _warning(
                    "sold_out",
                    f"{tier.name} sold out while your seats were not held; the line was removed.",
                    line.id,
                )
            )
            session.delete(line)
            change.lines.remove(line)
        elif line.quantity > left:
            change.warnings.append(
                _warning(
                    "quantity_capped",
                    f"{tier.name}: only {left} left while your seats were"
                    f" not held; quantity lowered from {line.quantity}.",
                    line.id,
                    requested=line.quantity,
                    kept=left,
                )
            )
            line.quantity = left
    session.flush()


def _release_hold_if_empty(session: Session, cart: Cart) -> None:
    """An empty cart holds nothing. Its hold life and renewals stay counted: emptying and
    refilling a cart does not start its hold life over."""
    remaining = session.scalar(
        select(func.count()).select_from(CartItem).where(CartItem.cart_id == cart.id)
    )
    if remaining == 0:
        cart.hold_expires_at = None


def merge_guest_cart(
    session: Session, user_id: int, guest_token: str, policy: HoldPolicy
) -> CartOutcome | None:
    """Merge the guest cart sent along (at sign-in, sign-up, or any signed-in cart request) into
    the user's cart. A token that matches no open guest cart is ignored: merging twice changes
    nothing. `merged_lines` of the outcome says how many guest lines came over."""
    guest = _guest_cart(session, guest_token, lock=False)
    if not _is_open_guest_cart(guest):
        return None
    return begin_change(session, CartOwner(user_id, guest_token), policy).outcome()


# --- the operations --------------------------------------------------------------------------


# A tier by id with its event (so the on-sale check needs no query), with the columns that
# start a change: add_item's first round trip does both.
_START_WITH_TIER = (
    select(TicketType, *_START_COLUMNS)
    .join(TicketType.event)
    .options(contains_eager(TicketType.event))
    .where(TicketType.id == bindparam("tier_id"), Event.status != "draft")
)
_START_FOR_ADDRESS_WITH_TIER = _START_WITH_TIER.add_columns(_ADDRESS_LOCK)


def resolve_ticket_type(
    session: Session,
    policy: HoldPolicy,
    address: str | None,
    *,
    event_id: int | None,
    ticket_type_id: int | None,
) -> tuple[TicketType, datetime]:
    """The tier a POST /api/cart/items means (by id, or an event's single on-sale tier) and the
    time of the change, which this starts (`start_change`). A tier named by id is read in the
    same round trip as the change starts: that read takes no lock, so the address lock is
    still the first lock taken."""
    if ticket_type_id is not None:
        statement = _START_WITH_TIER if address is None else _START_FOR_ADDRESS_WITH_TIER
        row = session.execute(
            statement, {**_start_parameters(policy, address), "tier_id": ticket_type_id}
        ).first()
        if row is None:
            raise TicketTypeNotFound(
                f"There is no ticket type {ticket_type_id}. GET /api/events/{{eventId}} lists them."
            )
        tier = row.TicketType
        if event_id is not None and tier.event_id != event_id:
            raise ValidationFailed(
                f"Ticket type {ticket_type_id} belongs to event {tier.event_id}, not {event_id}."
                " Send ticketTypeId alone, or with its own eventId.",
                errors={"ticketTypeId": [f"Not a ticket type of event {event_id}."]},
            )
        return tier, row.now
    now = start_change(session, policy, address)
    event = session.scalar(select(Event).where(Event.id == event_id, Event.status != "draft"))
    if event is None:
        raise EventNotFound(f"There is no event {event_id}. GET /api/events lists them.")
    tiers = list(
        session.scalars(
            select(TicketType).where(TicketType.event_id == event_id).order_by(TicketType.id)
        )
    )
    on_sale = [tier for tier in tiers if tier_on_sale(event, tier, now)]
    if not on_sale:
        raise NotOnSale(
            f"No tickets for event {event_id} are on sale now. GET /api/events/{event_id} shows"
            " when each ticket type is (salesStart, salesEnd)."
        )
    if len(on_sale) > 1:
        raise ValidationFailed(
            f"Event {event_id} has {len(on_sale)} ticket types on sale;"
            " say which with ticketTypeId.",
            errors={"ticketTypeId": [f"Required: one of {', '.join(str(t.id) for t in on_sale)}."]},
        )
    return on_sale[0], now


def _check_quantity(session: Session, change: _Change, tier: TicketType, quantity: int) -> None:
    """Refuse a line quantity over the per-order maximum (422) or over what is left (409)."""
    if quantity > tier.max_per_order:
        raise QuantityOverLimit(
            f"You can buy at most {tier.max_per_order} {tier.name} tickets per order. Lower the"
            f" quantity to at most {tier.max_per_order}.",
            errors={"quantity": [f"At most {tier.max_per_order} per order."]},
        )
    available = _available_for(session, change, [change.cart.id])[tier.id]
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
    session: Session, change: _Change, policy: HoldPolicy, cart_seats: int
) -> None:
    """Refuse a guest change that would make its client address hold more than
    `policy.max_seats_per_address` seats across all its guest carts with a live hold.
    `cart_seats`: what this cart would hold after the change. Runs under the address's
    advisory lock (taken by begin_change), so concurrent adds are counted one after another."""
    cart = change.cart
    if cart.user_id is not None or cart.client_address is None:
        return
    elsewhere = session.scalar(
        _HELD_BY_ADDRESS_ELSEWHERE, {"address": cart.client_address, "cart_id": cart.id}
    )
    limit = policy.max_seats_per_address
    if elsewhere + cart_seats > limit:
        raise AddressHoldLimit(
            f"Guest carts from your address may hold at most {limit} seats in all and hold"
            f" {elsewhere + _cart_seats(change)} now. Sign in (a signed-in cart is not limited"
            " by address), check out, or wait until those holds lapse.",
            limit=limit,
        )


def _cart_seats(change: _Change) -> int:
    return sum(line.quantity for line in change.lines)


def _ensure_on_sale(session: Session, tier: TicketType, now: datetime) -> None:
    event = session.get(Event, tier.event_id)
    if not tier_on_sale(event, tier, now):
        raise NotOnSale(
            f"{tier.name} for {event.title} is not on sale now"
            + (
                " (the event is cancelled). Choose another event."
                if event.status == "cancelled"
                else f". GET /api/events/{event.id} shows its sales window."
            )
        )


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
    tier, now = resolve_ticket_type(
        session,
        policy,
        change_address(owner, adds_seats=True),
        event_id=event_id,
        ticket_type_id=ticket_type_id,
    )
    change = begin_change(
        session, owner, policy, extra_tier_ids={tier.id}, now=now, adds_seats=True
    )
    tier = change.tiers[tier.id]
    _ensure_on_sale(session, tier, change.now)
    lines = {line.ticket_type_id: line for line in change.lines}
    currency = _cart_currency(change, lines.values())
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
    if line is None:
        session.add(
            CartItem(
                cart_id=change.cart.id,
                event_id=tier.event_id,
                ticket_type_id=tier.id,
                quantity=wanted,
                unit_price=tier.price,
            )
        )
    else:
        line.quantity = wanted
        line.unit_price = tier.price  # the customer has just seen the current price
    session.flush()
    return change.outcome()


def _owned_line(session: Session, change: _Change, item_id: int) -> CartItem:
    item_id = change.moved.get(item_id, item_id)  # a guest line merged just now
    line = next((line for line in change.lines if line.id == item_id), None)
    if line is None:
        raise CartItemNotFound()
    return line


def set_quantity(
    session: Session, owner: CartOwner, policy: HoldPolicy, *, item_id: int, quantity: int
) -> CartOutcome:
    """Set a line's quantity. Another cart's line is a 404, like a line that does not exist."""
    change = begin_change(
        session, owner, policy, create=False, missing=CartItemNotFound, adds_seats=True
    )
    line = _owned_line(session, change, item_id)
    tier = change.tiers[line.ticket_type_id]
    if quantity > line.quantity:
        _ensure_on_sale(session, tier, change.now)
        _check_address_hold(session, change, policy, _cart_seats(change) - line.quantity + quantity)
    _check_quantity(session, change, tier, quantity)
    line.quantity = quantity
    line.unit_price = tier.price
    session.flush()
    return change.outcome()


def remove_item(
    session: Session, owner: CartOwner, policy: HoldPolicy, *, item_id: int
) -> CartOutcome:
    change = begin_change(session, owner, policy, create=False, missing=CartItemNotFound)
    session.delete(_owned_line(session, change, item_id))
    session.flush()
    _release_hold_if_empty(session, change.cart)
    return change.outcome()


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


# --- what the client sees --------------------------------------------------------------------


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


def cart_view(session: Session, outcome: CartOutcome) -> dict:
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
    rows = session.execute(_CART_VIEW_LINES, {"cart_id": cart.id}).all()
    now = rows[0].now if rows else None
    hold_live = now is not None and cart.hold_expires_at is not None and cart.hold_expires_at > now
    if rows and not hold_live:
        warnings.append(
            _warning(
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
                _warning(
                    "price_changed",
                    f"{row.ticket_type_name} for {row.title} now costs"
                    f" {row.price} {row.currency} (was {row.price_when_added}).",
                    row.id,
                    old_price={"amount": row.price_when_added, "currency": row.currency},
                    new_price={"amount": row.price, "currency": row.currency},
                )
            )
        if not tier_on_sale(row, row, now):
            reason = "the event was cancelled" if row.status == "cancelled" else "sales have ended"
            warnings.append(
                _warning(
                    "not_on_sale",
                    f"{row.ticket_type_name} for {row.title} can no longer be"
                    f" bought ({reason}). Remove the line to check out.",
                    row.id,
                )
            )
        elif row.quantity > available:
            code = "sold_out" if available == 0 else "insufficient_availability"
            warnings.append(
                _warning(
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
