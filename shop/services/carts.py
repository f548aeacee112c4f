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

Functions take explicit arguments and never commit; the route commits once. This module finds
carts and starts every change (locks, the hold renewed or restarted, a guest cart merged);
the operations on a cart's lines (add, set, remove, empty) are in `cart_items.py`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Integer, bindparam, delete, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from shop.models import Cart, CartItem, CartStatus, Event, EventStatus, TicketType
from shop.services.availability import (
    HELD_BY_OTHERS,
    held_by_others,
    live_hold,
    seats_left,
)
from shop.services.errors import (
    CartNotFound,
    GuestCartNotFound,
    NotFound,
)

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


class CartLine(NamedTuple):
    """A cart line as a change reads it under the cart's lock: plain values, not an ORM
    `CartItem`. The rules only read a cart's lines (the currency, the line cap, the seats it
    holds, the answer); the few writes (an add's line, a new quantity, a removed or re-checked
    line) are one hand-written statement each, and the change then puts the new values in its
    list (`_replace`). Loading, tracking and then expiring 20 ORM objects on every change to a
    full cart cost more CPU than the statements themselves (docs/decisions.md, "Carts and
    holds")."""

    id: int
    ticket_type_id: int
    event_id: int
    quantity: int
    unit_price: Decimal


@dataclass
class CartLines:
    """What a change read under its locks and wrote: the cart's lines as they are now, their
    tiers (with their events), the seats other carts' live holds take on those tiers, and the
    transaction's clock. Enough to answer with the cart without reading it again."""

    lines: list[CartLine]
    tiers: dict[int, LockedTier]
    held: dict[int, int]
    now: datetime


@dataclass
class CartOutcome:
    """The cart after a request, what the request changed that the client should know about,
    and the guest token to hand back (None for signed-in carts). `read`: the lines as the
    change left them, when it knows them all (None: the answer reads the cart)."""

    cart: Cart | None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    guest_token: str | None = None
    created: bool = False
    merged_lines: int = 0  # lines a guest cart sent along brought into this cart
    read: CartLines | None = None


def new_guest_token() -> str:
    """43 URL-safe characters (256 random bits); only its SHA-256 is stored."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def cart_warning(
    code: str, detail: str, item_id: int | None = None, **extra: Any
) -> dict[str, Any]:
    """Something a request did to the cart, or found in it, that the client should act on."""
    warning: dict[str, Any] = {"code": code, "detail": detail, **extra}
    if item_id is not None:
        warning["item_id"] = item_id
    return warning


# --- finding carts ---------------------------------------------------------------------------

# The statements every cart request runs are built once, at import, with named parameters:
# building a statement and computing its cache key cost more CPU than PostgreSQL spends running
# these small queries (the catalogue does the same: docs/decisions.md, "Statements compiled once").
# A locking read must refresh what an earlier, unlocked read of the same row put in the session
# (`populate_existing`): the ORM otherwise keeps the first values of an object it already has,
# and a check made under the lock would use figures read before it (a `sold` that a checkout
# has raised since, say).
_GUEST_CART = select(Cart).where(Cart.guest_token_hash == bindparam("token_hash"))
_GUEST_CART_LOCKED = _GUEST_CART.with_for_update().execution_options(populate_existing=True)
_USER_CART = select(Cart).where(
    Cart.user_id == bindparam("user_id"), Cart.status == CartStatus.ACTIVE
)
# (Public: add_item starts a signed-in add with it, cart_items.py.)
USER_CART_LOCKED = _USER_CART.with_for_update().execution_options(populate_existing=True)
_CART_LINES = select(CartItem).where(CartItem.cart_id == bindparam("cart_id")).order_by(CartItem.id)
# A changing cart's lines, and on every row the seats other carts' live holds take on the locked
# tiers (`{tier id: seats}` as JSON, computed once): one round trip instead of two. The outer
# join from a one-row FROM gives one row (with no line) for a cart without lines.
# Rule: count holds in a NEW statement after the one that locked the tiers, never inside it.
# Holds change only under the tier lock, so once every tier of the change (the lines' tiers and
# the added one) is ours, no hold can appear before our commit. But in READ COMMITTED a statement
# takes its snapshot when it starts: a `FOR UPDATE` that waits for a lock re-reads the locked
# row afterwards, while any subquery or CTE of that same statement (a sum of holds, say) still
# sees the snapshot from before the wait and misses the hold the lock's previous owner just
# committed. A statement started after the lock was granted sees it.
_HELD = HELD_BY_OTHERS.subquery("held")
# The lines are plain columns in `CartLine`'s order (see CartLine for why).
_LINES_AND_HELD = (
    select(
        select(func.json_object_agg(_HELD.c.ticket_type_id, _HELD.c.sum))
        .scalar_subquery()
        .label("held"),
        CartItem.id,
        CartItem.ticket_type_id,
        CartItem.event_id,
        CartItem.quantity,
        CartItem.unit_price,
    )
    .select_from(select(literal(1).label("one")).subquery("one_row"))
    .outerjoin(CartItem, CartItem.cart_id == bindparam("cart_id"))
    .order_by(CartItem.id)
)
# The same for a guest change that may hold more seats, with the seats the live holds of the
# client address's OTHER guest carts take (the per-address cap), in the same round trip: it runs
# under the address's lock (start_change took it), so no other add from the address can change
# that figure before we commit. A new guest cart (no id yet: `cart_id` NULL) has no lines and
# excludes no cart.
_ADDRESS_HELD_ELSEWHERE = (
    select(func.coalesce(func.sum(CartItem.quantity), 0))
    .join(Cart, Cart.id == CartItem.cart_id)
    .where(
        Cart.client_address == bindparam("address"),
        Cart.user_id.is_(None),
        Cart.id != func.all(bindparam("exclude_cart_ids", type_=ARRAY(Integer))),
        live_hold(),
    )
    .scalar_subquery()
    .label("address_held")
)
_LINES_AND_HELD_FOR_ADDRESS = _LINES_AND_HELD.add_columns(_ADDRESS_HELD_ELSEWHERE)


def _guest_cart(session: Session, token: str | None, *, lock: bool) -> Cart | None:
    if not token or not GUEST_TOKEN_PATTERN.match(token):
        return None
    statement = _GUEST_CART_LOCKED if lock else _GUEST_CART
    return session.scalar(statement, {"token_hash": hash_token(token)})


def _user_cart(session: Session, user_id: int, *, lock: bool) -> Cart | None:
    statement = USER_CART_LOCKED if lock else _USER_CART
    return session.scalar(statement, {"user_id": user_id})


def _is_open_guest_cart(cart: Cart | None) -> bool:
    return cart is not None and cart.status == CartStatus.ACTIVE and cart.user_id is None


def find_cart(session: Session, owner: CartOwner, policy: HoldPolicy) -> CartOutcome:
    """The cart a read request sees. Nothing changes, except that a signed-in request carrying
    an open guest cart's token merges it first, so the answer shows the one cart checkout buys.

    A guest token that matches no open guest cart is a 404 — unless the request is signed in,
    where a stale token (already merged, or someone else's) is simply ignored: asking again
    after a merge changes nothing."""
    if owner.user_id is not None:
        if owner.guest_token is not None:
            merged = merge_guest_cart(session, owner.user_id, owner.guest_token, policy)
            if merged is not None:
                return merged
        return CartOutcome(cart=_user_cart(session, owner.user_id, lock=False))
    if owner.guest_token is None:
        return CartOutcome(cart=None)
    guest = _guest_cart(session, owner.guest_token, lock=False)
    if not _is_open_guest_cart(guest):
        raise GuestCartNotFound()
    return CartOutcome(cart=guest, guest_token=owner.guest_token)


# --- changing carts --------------------------------------------------------------------------


@dataclass
class CartChange:
    """A cart locked for a change, with the ticket types involved locked too."""

    cart: Cart
    tiers: dict[int, LockedTier]
    now: datetime
    warnings: list[dict[str, Any]]
    guest_token: str | None
    created: bool
    # Guest line id -> the line that now carries its seats (a merge may combine lines).
    moved: dict[int, int] = field(default_factory=dict)
    # The cart's lines once merged and re-checked (read once; the operations reuse them and
    # keep them up to date with what they write).
    lines: list[CartLine] = field(default_factory=list)
    # Seats other carts' live holds take per locked tier, read with the lines (None: not read).
    held: dict[int, int] | None = None
    # Seats the live holds of the client address's other guest carts take, read with the lines
    # for a guest change that may hold more seats (None: not read; see _check_address_hold).
    address_held: int | None = None

    def outcome(self, *, lines_known: bool = False) -> CartOutcome:
        """`lines_known`: the caller kept `lines` up to date with what it wrote (and flushed),
        so the answer can be built from them without reading the cart again."""
        read = None
        if lines_known and self.held is not None:
            read = CartLines(self.lines, self.tiers, self.held, self.now)
        return CartOutcome(
            self.cart,
            self.warnings,
            self.guest_token,
            self.created,
            merged_lines=len(self.moved),
            read=read,
        )


class LockedEvent(NamedTuple):
    """A locked tier's event, as the on-sale checks and the cart's answer read it."""

    id: int
    title: str
    starts_at: datetime
    status: EventStatus


class LockedTier(NamedTuple):
    """A ticket type as a change read it under its lock, with its event: plain values, not ORM
    objects. No cart change writes a tier, so nothing needs the objects' change tracking, and
    building and tracking two ORM objects per tier cost more CPU than the locking statement's
    round trip (a 20-line cart: 40 objects on every change). Read fresh under the lock every
    time, so no earlier, unlocked read of the tier can leave a stale figure behind."""

    id: int
    event_id: int
    name: str
    price: Decimal
    currency: str
    capacity: int
    sold: int
    max_per_order: int
    sales_start: datetime | None
    sales_end: datetime | None
    event: LockedEvent


# Array parameters keep one SQL text for any number of carts and tiers. The tiers' events come
# along (the on-sale checks and the cart's answer need them); only the tiers are locked.
# The ids to lock are ONE array, `ARRAY(the lines' tiers) || :tier_ids`, so PostgreSQL looks
# each id up in the tier's primary key. (`id IN (lines' tiers) OR id = ANY(:tier_ids)`, as this
# was written before, cannot use the index for an OR with a subquery: it read every tier and
# every event, ~20 ms a change in a shop of 10 000 events, where this takes ~0.4 ms; the bench's
# shop of 21 tiers did not show it. tests/test_cart_limits.py checks the plan.)
_LINE_TIER_IDS = func.array(
    select(CartItem.ticket_type_id)
    .where(CartItem.cart_id == func.any(bindparam("cart_ids", type_=ARRAY(Integer))))
    .scalar_subquery(),
    type_=ARRAY(Integer),
)
_LOCK_TIERS = (
    select(
        TicketType.id,
        TicketType.event_id,
        TicketType.name,
        TicketType.price,
        TicketType.currency,
        TicketType.capacity,
        TicketType.sold,
        TicketType.max_per_order,
        TicketType.sales_start,
        TicketType.sales_end,
        Event.id,
        Event.title,
        Event.starts_at,
        Event.status,
    )
    .join(Event, Event.id == TicketType.event_id)
    .where(TicketType.id == func.any(_LINE_TIER_IDS.op("||")(bindparam("tier_ids"))))
    .order_by(TicketType.id)
    .with_for_update(of=TicketType)
)


def _lock_tiers(
    session: Session, cart_ids: list[int], extra_tier_ids: set[int]
) -> dict[int, LockedTier]:
    """Lock, by ascending id, every ticket type in these carts' lines plus `extra_tier_ids`:
    one statement (the lines' tiers are a subquery, not a round trip of their own)."""
    if not cart_ids and not extra_tier_ids:
        return {}
    # Plain columns on the session's connection, past the ORM's execute. (Its autoflush has
    # nothing to do here: nothing a change leaves unflushed before this lock changes which
    # lines, and so which tiers, the carts have.)
    rows = session.connection().execute(
        _LOCK_TIERS, {"cart_ids": list(cart_ids), "tier_ids": sorted(extra_tier_ids)}
    )
    return {
        row[0]: LockedTier(*row[:10], event=LockedEvent(row[10], row[11], row[12], row[13]))
        for row in rows
    }


# What starts a change (see start_change): bound lock waits, read the clock, and for an
# anonymous add the client address's lock.
START_COLUMNS = (
    func.set_config("lock_timeout", bindparam("lock_timeout"), True).label("lock_timeout"),
    func.now().label("now"),
)
ADDRESS_LOCK = func.pg_advisory_xact_lock(
    ADDRESS_LOCK_CLASS, func.hashtext(bindparam("address"))
).label("address_lock")
_START = select(*START_COLUMNS)
_START_FOR_ADDRESS = select(*START_COLUMNS, ADDRESS_LOCK)


def start_parameters(policy: HoldPolicy, address: str | None) -> dict[str, str]:
    """The parameters of START_COLUMNS (and of ADDRESS_LOCK when `address` is given)."""
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
    now: datetime = session.execute(statement, start_parameters(policy, address)).one().now
    return now


def change_address(owner: CartOwner, adds_seats: bool) -> str | None:
    """The client address whose seat cap a change counts against: anonymous changes that may
    hold more seats."""
    return owner.client_address if owner.user_id is None and adds_seats else None


def _lines(session: Session, cart_id: int) -> list[CartItem]:
    return list(session.scalars(_CART_LINES, {"cart_id": cart_id}))


def _read_lines_and_held(session: Session, change: CartChange, address: str | None) -> None:
    """Set the change's lines, the seats other carts' live holds take per locked tier, and (with
    `address`, a guest change that may hold more seats) the seats the address's other guest
    carts hold: one round trip, after the statement that locked the tiers. A new guest cart
    (not inserted yet) has no lines."""
    cart_id = change.cart.id
    parameters: dict[str, Any] = {
        "cart_id": cart_id,
        "tier_ids": list(change.tiers),
        "exclude_cart_ids": [] if cart_id is None else [cart_id],
    }
    # Plain columns on the session's connection, past the ORM's execute. (Its autoflush has
    # nothing to do: a merge flushes its own writes before this read.)
    connection = session.connection()
    if address is None:
        rows = connection.execute(_LINES_AND_HELD, parameters).all()
    else:
        parameters["address"] = address
        rows = connection.execute(_LINES_AND_HELD_FOR_ADDRESS, parameters).all()
        change.address_held = int(rows[0].address_held)
    change.held = {int(tier_id): int(seats) for tier_id, seats in (rows[0].held or {}).items()}
    # (Columns 1-5 are the line's; a cart without lines gives one row whose line id is NULL.)
    change.lines = [CartLine._make(row[1:6]) for row in rows if row[1] is not None]


def begin_change(
    session: Session,
    owner: CartOwner,
    policy: HoldPolicy,
    *,
    extra_tier_ids: AbstractSet[int] = frozenset(),
    create: bool = True,
    missing: type[NotFound] = CartNotFound,
    now: datetime | None = None,
    adds_seats: bool = False,
    user_cart: Cart | None = None,
) -> CartChange:
    """Lock (or create) the owner's cart, merge a guest cart into a signed-in user's, lock every
    ticket type involved, and renew or restart the hold. Raises CartNotFound for a dead guest
    token on an anonymous request. A new guest cart comes back not yet inserted (`cart.id` is
    None, the cart is not in the session): the caller's write inserts it (`add_item`).

    `adds_seats`: the change may hold more seats. An anonymous one then first takes the lock of
    its client address, so concurrent adds from one address are counted one after the other.

    `user_cart`: the signed-in owner's active cart, already locked by the caller's first
    statement (add_item's, with `now`), for a request that sends no guest token; not read again."""
    address = change_address(owner, adds_seats)
    # A caller that already started the change (add_item: it resolves the tier first) passes
    # the time start_change read; now() is the transaction's start time either way.
    now = now or start_change(session, policy, address)
    warnings: list[dict[str, Any]] = []
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
        cart = user_cart
        if cart is None:
            cart = _user_cart(session, owner.user_id, lock=True)
        else:
            # (Locked before any other cart only because no guest cart is involved.)
            assert guest is None and owner.guest_token is None
        if cart is None and guest is not None:
            # Nothing to merge into: the guest cart becomes the user's, its token stops working.
            guest.user_id = owner.user_id
            cart, guest = guest, None
        elif cart is None:
            if not create:
                raise missing()
            session.execute(
                insert(Cart)
                .values(user_id=owner.user_id, status=CartStatus.ACTIVE)
                .on_conflict_do_nothing(
                    index_elements=["user_id"],
                    index_where=text("status = 'active' AND user_id IS NOT NULL"),
                )
            )
            # Ours, or the one a concurrent request inserted first: it exists now either way.
            cart = session.scalars(USER_CART_LOCKED, {"user_id": owner.user_id}).one()
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
        # Not inserted here: the caller's write inserts it with its first line, in one statement
        # (add_item: the only change that creates a guest cart). Until then it has no id.
        cart = Cart(
            guest_token_hash=hash_token(guest_token),
            status=CartStatus.ACTIVE,
            client_address=address,
            hold_renewals=0,
        )
        created = True

    # The guest cart (if merging) was locked before the user's cart; both are locked before any
    # ticket type, in the same order checkout uses.
    cart_ids = [c.id for c in (cart, guest) if c is not None and c.id is not None]
    tiers = _lock_tiers(session, cart_ids, set(extra_tier_ids))
    change = CartChange(cart, tiers, now, warnings, guest_token, created)
    if guest is not None:
        _merge(session, change, guest, policy)
    # (A new guest cart has no lines yet, but the holds on the tier and, for a guest add, the
    # seats its address holds still count.)
    _read_lines_and_held(session, change, address if cart.user_id is None else None)
    _renew_hold(session, change, policy)
    return change


def available_for(session: Session, change: CartChange, exclude: list[int]) -> dict[int, int]:
    """Seats per locked tier that no other cart holds (`exclude`: carts whose holds are ours).
    For the changing cart alone, the holds read with its lines serve (no query)."""
    if not change.tiers:
        return {}
    if change.held is not None and exclude == [change.cart.id]:
        held = change.held
    else:
        held = held_by_others(session, change.tiers, exclude)
    return {
        tier_id: seats_left(tier.capacity, tier.sold, held.get(tier_id, 0))
        for tier_id, tier in change.tiers.items()
    }


def _merge(session: Session, change: CartChange, guest: Cart, policy: HoldPolicy) -> None:
    """Move the guest cart's lines into the user's cart: quantities add up, capped by what is
    available, by the tier's per-order maximum and by the cart's line limit; every cap becomes a
    warning. A line the user's cart lacks moves over as it is (keeping its id), so a request
    naming a guest line by id still finds it after the merge."""
    available = available_for(session, change, [change.cart.id, guest.id])
    mine = {line.ticket_type_id: line for line in _lines(session, change.cart.id)}
    currency = cart_currency(change, mine.values())
    capped: list[tuple[dict[str, Any], CartItem]] = []
    for line in _lines(session, guest.id):
        tier = change.tiers[line.ticket_type_id]
        if currency is not None and tier.currency != currency:
            change.warnings.append(
                cart_warning(
                    "currency_mismatch",
                    f"{tier.name} is priced in {tier.currency}, your cart in {currency}; it was"
                    " left out. Buy it in a separate order.",
                )
            )
            continue
        target = mine.get(line.ticket_type_id)
        if target is None and len(mine) >= policy.max_lines:
            change.warnings.append(
                cart_warning(
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
                cart_warning("sold_out", f"{tier.name} is sold out; it was not added to your cart.")
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
            warning = cart_warning(
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
    guest.status = CartStatus.MERGED
    guest.user_id = change.cart.user_id
    guest.hold_expires_at = None
    session.flush()
    for warning, target in capped:
        warning["item_id"] = target.id


def cart_currency(change: CartChange, lines: Iterable[CartItem | CartLine]) -> str | None:
    """The currency the cart is in: its first line's tier's (None while it has no lines)."""
    for line in lines:
        tier = change.tiers.get(line.ticket_type_id)
        if tier is not None:
            return tier.currency
    return None


def _renew_hold(session: Session, change: CartChange, policy: HoldPolicy) -> None:
    """A change holds the seats for `policy.minutes` more: the first hold starts the cart's hold
    life; later changes renew it (also after it lapsed, once every line is re-checked against
    what is left) at most `policy.max_renewals` times and never past `policy.max_minutes` after
    the first hold. Lapsing and restarting resets neither bound, so no one can hold seats
    indefinitely by changing a cart now and then. A cart past those bounds still works: its
    seats are simply not held, and checkout re-checks every line."""
    cart = change.cart
    started_at = cart.hold_started_at
    starting = started_at is None
    if started_at is None:
        started_at = cart.hold_started_at = change.now
    last_possible = started_at + timedelta(minutes=policy.max_minutes)
    lapsed = cart.hold_expires_at is None or cart.hold_expires_at <= change.now
    if lapsed:
        _recheck_lines(session, change)
    if starting or (cart.hold_renewals < policy.max_renewals and change.now < last_possible):
        if not starting:
            cart.hold_renewals += 1
        cart.hold_expires_at = min(change.now + timedelta(minutes=policy.minutes), last_possible)
    elif lapsed:
        change.warnings.append(
            cart_warning(
                "hold_limit_reached",
                f"Your cart no longer holds seats: a cart holds them for at most"
                f" {policy.max_minutes} minutes in all ({policy.max_renewals} renewals). Check"
                " out to buy what is still available; checkout re-checks every line.",
            )
        )
    else:
        change.warnings.append(
            cart_warning(
                "hold_not_renewed",
                "Your seats stay held until the hold's expiry time but"
                " will not be extended again. Check out before then.",
            )
        )
    cart.updated_at = change.now


# A re-check's writes (_recheck_lines): the lines it removes (remove_item's one line too), and
# the lines it lowers with their new quantities (two arrays, one statement).
REMOVE_LINES = delete(CartItem).where(
    CartItem.id == func.any(bindparam("line_ids", type_=ARRAY(Integer)))
)
_LOWER_LINES = text(
    """
    UPDATE cart_item SET quantity = lowered.quantity, updated_at = now()
    FROM unnest(CAST(:line_ids AS integer[]), CAST(:quantities AS integer[]))
         AS lowered (id, quantity)
    WHERE cart_item.id = lowered.id
    """
)


def _recheck_lines(session: Session, change: CartChange) -> None:
    """After a hold lapsed, others may have bought or held the seats: cap or drop lines.

    Every line is checked, each against what is left of its own tier. The loop builds the list
    of lines it keeps instead of removing dropped lines from the list it walks: removing an item
    from a Python list during a `for` over it skips the item after it, and a skipped line would
    be held again at its old quantity, over what is left (`flask check`: sold + held >
    capacity; its holder's checkout is then refused). tests/test_cart.py and
    tests/test_lapsed_hold_concurrency.py hold this down."""
    if not change.lines:
        return
    available = available_for(session, change, [change.cart.id])
    kept: list[CartLine] = []
    removed: list[int] = []
    lowered: list[CartLine] = []
    for line in change.lines:
        tier = change.tiers[line.ticket_type_id]
        left = available[tier.id]
        if left == 0:
            change.warnings.append(
                cart_warning(
                    "sold_out",
                    f"{tier.name} sold out while your seats were not held; the line was removed.",
                    line.id,
                )
            )
            removed.append(line.id)
            continue
        if line.quantity > left:
            change.warnings.append(
                cart_warning(
                    "quantity_capped",
                    f"{tier.name}: only {left} left while your seats were"
                    f" not held; quantity lowered from {line.quantity}.",
                    line.id,
                    requested=line.quantity,
                    kept=left,
                )
            )
            line = line._replace(quantity=left)
            lowered.append(line)
        kept.append(line)
    change.lines = kept
    # The lines are plain values (CartLine): at most one statement for the removed lines and
    # one for the lowered ones, whatever their number.
    connection = session.connection()
    if removed:
        connection.execute(REMOVE_LINES, {"line_ids": removed})
    if lowered:
        connection.execute(
            _LOWER_LINES,
            {
                "line_ids": [line.id for line in lowered],
                "quantities": [line.quantity for line in lowered],
            },
        )


def release_hold_if_empty(change: CartChange) -> None:
    """An empty cart holds nothing. Its hold life and renewals stay counted: emptying and
    refilling a cart does not start its hold life over. (`change.lines` are all the cart's
    lines, read under its lock and kept up to date: no count query.)"""
    if not change.lines:
        change.cart.hold_expires_at = None


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
