"""Checkout: a cart becomes an immutable order, in one transaction that cannot oversell.

The plain version of a checkout locks the cart and every ticket type first, then reads, checks
and writes under those locks. With many buyers on one tier that lock is the queue everybody
waits in, so this one reads and checks first, and locks last (shop/services/locking.py has the
lock order):

1. **read** the user's open cart with its lines, their tiers and events and the seats other
   carts hold on them, taking no lock and writing nothing;
2. **check** sales windows, availability (the cart's own live holds count for it, other carts'
   live holds against it), the per-order and per-customer limits and the expected total. Every
   refusal happens here, before any lock or write: a buyer of a sold-out tier gets the 409 at once,
   without queuing behind the buyers who hold its lock (the sold-out fast path);
3. **close** the cart, if it is still exactly what step 1 read (see below), and lock its events
   `FOR SHARE` (an admin cancelling, renaming or moving one waits for us, or we see the change:
   cancelled is refused, a title or start that differs from step 1's sends the checkout back
   to step 1, because the order line copies them); a cart whose hold lapsed also locks its
   tiers here;
4. **sell and place**: one statement locks the tiers (ascending id), raises `sold` with a
   conditional `UPDATE ... SET sold = sold + n WHERE sold + n <= capacity AND <the tier is
   still what step 1 read>`, and inserts the order, its lines and one ticket per seat, only if
   every line sold (and our hold is still live). The caller commits: a tier is locked for this
   one round trip and the commit. If it placed nothing, the checkout rolls back to a savepoint
   taken before step 3 and starts again from step 1 (see below).

**Why step 3 compares the cart with what step 1 read.** Step 1 takes no lock, so the cart can
change before step 3 locks it: the owner changes it in another tab, or an admin deletes a tier
or an event, which deletes its cart lines by `ON DELETE CASCADE` without touching the cart
row. Step 3 closes the cart only if its `updated_at` (every cart change sets it) and its lines
(id, tier, quantity) are still the ones read. The first catches a change that commits while we
wait for the cart's lock (PostgreSQL re-checks an UPDATE's condition on the newest row
version, but a subquery in it still sees the statement's starting snapshot); the second
catches a cascade, which changes lines without touching the cart. If either differs, the
checkout reads again (a few times at most). We do not make the cascade touch the cart (a
trigger): the admin's delete holds the tier's lock when it cascades, and locking carts after
tiers would invert the lock order. Whatever an admin does after step 3 waits for our event
lock, or is seen by step 4 (a deleted tier locks and sells nothing: the checkout starts again
and buys the cart as it is then, as when the tier went before step 3).

**Why step 4 can trust step 2.** Step 2 judged what step 1 read, without a lock, so by the
time step 4 holds the tier locks an admin may have raised the price, closed the sales window
or lowered `maxPerCustomer`, another buyer may have taken the last seat, or our own hold may
have lapsed (and another cart taken its seats). Step 4 therefore sells a line only if, on the
row as it is once locked, the seats fit *and* the tier's name, price, currency, sales window
and limit are still exactly what step 1 read (`IS NOT DISTINCT FROM`: NULL equals NULL). Its
UPDATE needs no extra read for that: PostgreSQL evaluates an UPDATE's WHERE on the newest
committed row version once it has the lock, even when the lock was waited for (the manual's
"EvalPlanQual" re-check), and a change committed before the statement started is in its
snapshot anyway. For a cart whose hold was live at step 1 the seats are its own only while the
hold is live: the order is inserted only if `hold_expires_at > clock_timestamp()` once every
tier is locked (`now()` would not do: it is the transaction's start, when the hold looked
live). From then on nobody can take those seats, because cart changes move holds under the
tier lock, which we keep until we commit. A cart whose hold lapsed owns nothing: it locks its
tiers in step 3, and step 4, a new statement that sees everything committed before those locks
were granted, counts other carts' live holds again.

When any line does not sell, the statement places nothing, but the lines before it did raise
`sold`, and step 3 closed the cart. The checkout rolls back to its savepoint, taken after step 2
and before step 3's first write (undoing both and releasing the locks taken since), and runs
steps 1-4 again: a fresh read, so step 2 now refuses
with the right reason (`price_changed` with the new total, `not_on_sale`, the limit, the lines
that are really short, counted without our own rolled-back increments) or the checkout sells,
at the current prices when the buyer sent no `expectedTotal`. A savepoint rather than a new
transaction keeps the Idempotency-Key's claim, taken earlier in the same transaction; it costs
one round trip before any lock, and none for a checkout that step 2 refuses. A checkout sent
without a key has no claim to keep (its transaction has only read the token's user): it takes
no savepoint, and rolls the whole transaction back instead (`transaction_is_ours`); a rush's
buyers send no key, so each sale saves that round trip. Inside the same transaction `now()`
stays the checkout's start (after a whole rollback, the new transaction's), so the retry judges
sales windows at the same instant the order will be stamped with; only the own hold is judged
on `clock_timestamp()`, because other carts judge it on theirs.
This happens a few times at most (`READ_ATTEMPTS`), then 503 CheckoutContention: retry.

Any refusal raises before the caller commits, so a failed checkout leaves no trace (without a
key, a refusal at step 2 commits the transaction's reads, which is the same: see
`place_order`). Every timestamp comes from the database clock (`now()`, the transaction's
start), so `createdAt` and `confirmedAt` are the same instant. Payment is simulated: the order
is `confirmed` at once (docs/decisions.md says where a payment provider would plug in).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NoReturn

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from shop.database import driver_sql, read_rows
from shop.models import Order, OrderItem, OrderStatus, TicketStatus
from shop.services.availability import (
    HELD_SQL,
    LIVE_HOLD_SQL,
    seats_left,
)
from shop.services.catalog import tier_on_sale
from shop.services.errors import (
    CartEmpty,
    CheckoutContention,
    CustomerLimitExceeded,
    DomainError,
    InsufficientAvailability,
    NotOnSale,
    PriceChanged,
    QuantityOverLimit,
)


def new_ticket_code() -> str:
    """32 characters of RFC 4648 base32 (160 random bits): unguessable, QR alphanumeric-safe."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass
class PlacedTicket:
    id: int
    code: str
    status: TicketStatus = TicketStatus.VALID
    checked_in_at: datetime | None = None


@dataclass
class PlacedLine:
    """An order line as written, with the same attribute names as `OrderItem`."""

    id: int
    event_id: int
    ticket_type_id: int
    event_title: str
    event_starts_at: datetime
    ticket_type_name: str
    unit_price: Decimal
    quantity: int
    line_total: Decimal
    tickets: list[PlacedTicket] = field(default_factory=list)


@dataclass
class PlacedOrder:
    """The order a checkout wrote, with the same attribute names as `Order`, so the route
    answers from it without reading anything back."""

    id: int
    status: OrderStatus
    total: Decimal
    currency: str
    created_at: datetime
    confirmed_at: datetime
    cancelled_at: datetime | None
    items: list[PlacedLine]


# A row of step 1's statement (`CART_LINES`), one per cart line: a named tuple (`line.quantity`,
# `line.price`, ...), as `read_rows` returns rows.
CheckoutLine = Any


# Step 1. The open cart, its lines with their tiers and events, and the seats other carts' live
# holds take on those tiers, in tier id order: no lock, no write. Also the cart's version
# (`updated_at`) and whether its own hold is live, for step 3.
# `set_config(..., true)` is SET LOCAL for the rest of this transaction: steps 3 and 4 (prepared
# statements after a connection's fifth checkout) then run on their generic plan. Their plans do
# not depend on the values (primary keys and arrays of ids), but PostgreSQL's estimate kept it
# planning them afresh on every execution, which cost more than running them (docs/decisions.md).
CART_LINES = text(
    f"""
    WITH open_cart AS (
        SELECT id, updated_at, hold_expires_at,
               coalesce(hold_expires_at > clock_timestamp(), false) AS hold_live
        FROM cart WHERE user_id = :user_id AND status = 'active'
    ),
    lines AS (
        SELECT ci.id, ci.cart_id, ci.event_id, ci.ticket_type_id, ci.quantity
        FROM cart_item ci JOIN open_cart ON open_cart.id = ci.cart_id
    ),
    held AS ({
        HELD_SQL.format(
            tier_filter="ci.ticket_type_id IN (SELECT ticket_type_id FROM lines)"
            " AND ci.cart_id NOT IN (SELECT id FROM open_cart)"
        )
    })
    SELECT o.id AS cart_id, o.updated_at AS cart_updated_at, o.hold_expires_at, o.hold_live,
           l.id, l.quantity, l.ticket_type_id, t.name, t.price, t.currency, t.capacity, t.sold,
           t.sales_start, t.sales_end, t.max_per_order, t.max_per_customer, l.event_id, e.title,
           e.starts_at,
           e.status,
           coalesce(h.held, 0)::int AS held_by_others, now() AS now,
           set_config('plan_cache_mode', 'force_generic_plan', true) AS plan_cache_mode
    FROM lines l
    JOIN open_cart o ON o.id = l.cart_id
    JOIN ticket_type t ON t.id = l.ticket_type_id
    JOIN event e ON e.id = l.event_id
    LEFT JOIN held h ON h.ticket_type_id = l.ticket_type_id
    ORDER BY l.ticket_type_id
    """
)

# Step 3, one round trip, locks in the order of shop/services/locking.py: the cart (closed only
# if it is still what step 1 read), then its events `FOR SHARE` (still published and upcoming;
# their title and start as locked, the newest version, compared with what step 1 read),
# then, for a cart whose hold lapsed, its tiers. Each step is gated on the one before
# (`EXISTS (SELECT FROM closed)`, the count of `events`): a condition that does not depend on
# the row is checked once before the scan starts, so nothing is locked when the cart changed or
# an event was cancelled, and the locks are taken in this order.
CLOSE_CART = text(
    """
    WITH closed AS (
        UPDATE cart SET status = 'checked_out', hold_expires_at = NULL, updated_at = now()
        WHERE id = :cart_id AND status = 'active' AND updated_at = :seen_updated_at
          AND ARRAY(SELECT ARRAY[ci.id, ci.ticket_type_id, ci.quantity] FROM cart_item ci
                    WHERE ci.cart_id = :cart_id ORDER BY ci.id) = CAST(:seen_lines AS int[])
        RETURNING id
    ),
    events AS MATERIALIZED (
        SELECT e.id, e.title, e.starts_at FROM event e
        WHERE e.id = ANY(CAST(:event_ids AS int[])) AND e.status = 'published'
          AND e.starts_at > now() AND EXISTS (SELECT FROM closed)
        ORDER BY e.id
        FOR SHARE
    ),
    tiers AS MATERIALIZED (
        SELECT t.id FROM ticket_type t
        WHERE CAST(:lock_tiers AS boolean) AND t.id = ANY(CAST(:tier_ids AS int[]))
          AND (SELECT count(*) FROM events) = cardinality(CAST(:event_ids AS int[]))
        ORDER BY t.id
        FOR UPDATE
    )
    SELECT EXISTS (SELECT FROM closed) AS closed,
           ARRAY(SELECT id FROM events) AS event_ids,
           NOT EXISTS (
               SELECT FROM events
               JOIN unnest(CAST(:event_ids AS int[]), CAST(:event_titles AS text[]),
                           CAST(:event_starts AS timestamptz[])) AS seen(id, title, starts_at)
                   ON seen.id = events.id
               WHERE events.title IS DISTINCT FROM seen.title
                  OR events.starts_at IS DISTINCT FROM seen.starts_at
           ) AS events_as_read,
           (SELECT count(*) FROM tiers) AS tiers_locked
    """
)

# Step 4: lock the tiers (ascending id; already ours when the hold lapsed), sell, and insert the
# order, its lines and its tickets, in one round trip. `sold` is incremented, never written from
# a value read earlier, and only where the seats fit; the order is inserted only when every
# line sold (`(SELECT count(*) FROM sold) = :line_count`), so a line that no longer fits makes
# the statement return nothing. Lines and tickets come in as arrays (one element per line, one
# per ticket); each ticket finds its line by ticket type (an order has one line per ticket type).
_SELL_AND_PLACE = """
    WITH locked AS MATERIALIZED (
        SELECT id FROM ticket_type WHERE id = ANY(CAST(:tier_ids AS int[])) ORDER BY id FOR UPDATE
    ),
    sold AS (
        UPDATE ticket_type t SET sold = t.sold + line.quantity
        FROM locked
        JOIN unnest(CAST(:tier_ids AS int[]), CAST(:quantities AS int[]),
                    CAST(:names AS text[]), CAST(:prices AS numeric[]),
                    CAST(:currencies AS text[]), CAST(:sales_starts AS timestamptz[]),
                    CAST(:sales_ends AS timestamptz[]), CAST(:order_limits AS int[]),
                    CAST(:customer_limits AS int[]))
            AS line(ticket_type_id, quantity, name, price, currency, sales_start, sales_end,
                    max_per_order, max_per_customer)
            ON line.ticket_type_id = locked.id
        WHERE t.id = locked.id AND t.sold + line.quantity {holds} <= t.capacity
          AND (t.name, t.price, t.currency, t.sales_start, t.sales_end, t.max_per_order,
               t.max_per_customer)
              IS NOT DISTINCT FROM (line.name, line.price, line.currency, line.sales_start,
                                    line.sales_end, line.max_per_order, line.max_per_customer)
        RETURNING t.id
    ),
    new_order AS (
        INSERT INTO customer_order
            (user_id, cart_id, status, total, currency, confirmed_at, created_at, updated_at)
        SELECT :user_id, :cart_id, 'confirmed', :total, :currency, now(), now(), now()
        -- CASE fixes the order: the hold is judged after every tier is locked and sold.
        WHERE CASE WHEN (SELECT count(*) FROM sold) = cardinality(CAST(:tier_ids AS int[]))
                   THEN {hold_still_live} ELSE false END
        RETURNING id, created_at
    ),
    new_lines AS (
        INSERT INTO order_item (order_id, event_id, ticket_type_id, event_title,
                                event_starts_at, ticket_type_name, unit_price, quantity,
                                line_total)
        SELECT new_order.id, line.event_id, line.ticket_type_id, line.event_title,
               line.event_starts_at, line.ticket_type_name, line.unit_price, line.quantity,
               line.unit_price * line.quantity
        FROM new_order, unnest(CAST(:event_ids AS int[]), CAST(:tier_ids AS int[]),
                               CAST(:titles AS text[]), CAST(:starts AS timestamptz[]),
                               CAST(:names AS text[]), CAST(:prices AS numeric[]),
                               CAST(:quantities AS int[]))
            AS line(event_id, ticket_type_id, event_title, event_starts_at, ticket_type_name,
                    unit_price, quantity)
        RETURNING id, ticket_type_id
    ),
    new_tickets AS (
        INSERT INTO ticket (order_item_id, code, created_at, updated_at)
        SELECT new_lines.id, seat.code, now(), now()
        FROM unnest(CAST(:ticket_tier_ids AS int[]), CAST(:codes AS text[]))
            AS seat(ticket_type_id, code)
        JOIN new_lines USING (ticket_type_id)
        RETURNING id, order_item_id, code
    )
    SELECT new_order.id AS order_id, new_order.created_at, new_lines.id AS line_id,
           new_lines.ticket_type_id, new_tickets.id AS ticket_id, new_tickets.code
    FROM new_order, new_lines JOIN new_tickets ON new_tickets.order_item_id = new_lines.id
    ORDER BY new_tickets.id
    """
# Own hold live at step 1: the seats are ours if the hold is still live once the tiers are
# locked (`clock_timestamp()` is the time now; `now()` is the transaction's start).
SELL_AND_PLACE = text(
    _SELL_AND_PLACE.format(
        holds="", hold_still_live="CAST(:hold_expires_at AS timestamptz) > clock_timestamp()"
    )
)
# Hold lapsed: the tiers were locked by step 3, so this statement's snapshot holds every hold
# committed before that, and no new one can appear (holds change under the tier lock).
SELL_AND_PLACE_AGAINST_HOLDS = text(
    _SELL_AND_PLACE.format(
        holds=f"""+ coalesce((
            SELECT sum(ci.quantity) FROM cart_item ci JOIN cart c ON c.id = ci.cart_id
            WHERE ci.ticket_type_id = t.id AND ci.cart_id <> :cart_id AND {LIVE_HOLD_SQL}
        ), 0)""",
        hold_still_live="true",
    )
)

# Step 3 or 4 finding that what step 1 read is no longer true starts the checkout again from
# step 1; a cart or a tier that keeps changing under a checkout (its owner changing the cart
# again and again in another tab) gets a retryable 503.
READ_ATTEMPTS = 3
# Where a checkout whose step 4 sold nothing rolls back to (its cart close and the lines that
# did sell), without losing what the transaction did before (an Idempotency-Key's claim).
SAVEPOINT = "SAVEPOINT place_order"
ROLLBACK_TO_SAVEPOINT = "ROLLBACK TO SAVEPOINT place_order"


def place_order(
    session: Session,
    user_id: int,
    *,
    expected_total: Money | None = None,
    transaction_is_ours: bool = False,
) -> PlacedOrder:
    """Turn the user's cart into a confirmed order, in the steps the module docstring lists.
    Raises CartEmpty (422), NotOnSale (409), QuantityOverLimit (422, a line over its tier's
    maxPerOrder as it is now), CustomerLimitExceeded (409, a tier's
    maxPerCustomer across the customer's orders), InsufficientAvailability (409, listing every
    line that cannot be filled), PriceChanged (409) or CheckoutContention (503, the cart or its
    tiers kept changing); the caller commits on success and rolls back on any error. Without
    `expected_total` the buyer pays the prices of the moment the tiers are locked.

    `transaction_is_ours`: the caller's transaction has only read so far (no Idempotency-Key's
    claim to keep), so the checkout may end it. It then starts again by rolling the whole
    transaction back instead of rolling back to a savepoint (one round trip less per sale: no
    SAVEPOINT), and a refusal found before any write (steps 1 and 2: a sold-out tier's 409,
    most of an on-sale rush) ends the transaction with a COMMIT of nothing before it raises,
    so the caller's rollback finds nothing to do. Why not leave it to that rollback: psycopg
    forgets every statement it prepared on the connection at a ROLLBACK (and sends `DEALLOCATE
    ALL`, a round trip more, when it had any), so a worker answering refusals would never keep
    the token's and the cart's statements prepared, and PostgreSQL would parse and plan them
    again for every 409 (docs/decisions.md, "Checkout and orders")."""
    # Core statements on the session's connection: no ORM objects to build on the hot path.
    connection = session.connection()
    savepoint_taken = False
    for _attempt in range(READ_ATTEMPTS):
        try:
            lines = read_rows(connection, driver_sql(CART_LINES), {"user_id": user_id})
            if not lines:
                raise CartEmpty()
            total, currency = _check(session, user_id, lines, expected_total)
        except DomainError:
            if transaction_is_ours:
                session.commit()  # it wrote nothing: the same as a rollback, prepared or not
            raise
        sale = _sale_parameters(user_id, lines, total, currency)
        # (With `transaction_is_ours` there is nothing before the checkout to keep, so no
        # savepoint: a retry rolls the whole transaction back.)
        if not transaction_is_ours and not savepoint_taken:
            # Taken only once the checks passed, before the first write: steps 1 and 2 write
            # nothing a rollback would have to undo, so a refusal (a sold-out tier's 409, most
            # of a rush) costs no round trip for it. A plain SAVEPOINT, never released: the
            # caller's commit ends it. (The ORM's `begin_nested()` would also send a RELEASE,
            # while the tiers are locked.) The session does not know about it, which is safe
            # because nothing after it loads ORM objects a rollback could leave stale. Rolling
            # back to it keeps it, so a retry reuses it.
            connection.exec_driver_sql(SAVEPOINT)
            savepoint_taken = True
        closed = _close_cart(connection, lines)
        if closed is Closed.CART_CHANGED:
            continue  # nothing was written or locked: read it again
        if closed is Closed.AS_READ:
            placed = _sell_and_place(connection, lines, sale)
            if placed is not None:
                return placed
        # An event's title or start, a tier, or our hold changed since step 1: undo the close
        # and whatever sold, and run the checks again on what is true now; they refuse with the
        # right reason, or it sells (and the order copies the event as it is now).
        if transaction_is_ours:
            session.rollback()  # the whole transaction: it read the token's user, nothing else
            connection = session.connection()
        else:
            connection.exec_driver_sql(ROLLBACK_TO_SAVEPOINT)
    raise CheckoutContention()


def _check(
    session: Session, user_id: int, lines: Sequence[CheckoutLine], expected_total: Money | None
) -> tuple[Decimal, str]:
    """Step 2: every refusal, before any lock. Returns the total and its currency."""
    now = lines[0].now
    not_on_sale = [line for line in lines if not tier_on_sale(line, line, now)]
    if not_on_sale:
        _refuse_not_on_sale(not_on_sale)
    _refuse_lines_over_order_limit(lines)
    # Seats before the customer limit: the seats are judged on step 1's row, the limit needs a
    # query of the customer's orders (when a tier sets one, as on-sale rushes do against
    # scalpers). Most of a rush asks for a sold-out tier, and its 409 then costs no query more;
    # a line both short and over the limit is refused as short (what is left is the news).
    _refuse_short_lines(
        [(line, seats_left(line.capacity, line.sold, line.held_by_others)) for line in lines]
    )
    check_customer_limits(session, user_id, lines)
    currency = lines[0].currency
    total = sum((line.price * line.quantity for line in lines), Decimal("0.00"))
    if expected_total is not None and (
        expected_total.amount != total or expected_total.currency != currency
    ):
        raise PriceChanged(
            f"The total is now {total} {currency}, not the {expected_total.amount}"
            f" {expected_total.currency} you expected. Review your cart and check out again.",
            expected_total=expected_total,
            current_total=Money(total, currency),
        )
    return total, currency


def _refuse_lines_over_order_limit(lines: Sequence[CheckoutLine]) -> None:
    """A tier's `max_per_order` as it is now: an admin may lower it (against scalpers at the
    start of a rush) after a cart was filled within the old limit, and the order must keep to
    the new one. Raises QuantityOverLimit (422) listing every line over it."""
    over = [
        {**_line_ref(line), "requested": line.quantity, "limit": line.max_per_order}
        for line in lines
        if line.quantity > line.max_per_order
    ]
    if over:
        raise QuantityOverLimit(
            "Some ticket types now sell fewer tickets per order than your cart holds. Lower"
            " those lines to `limit` (see `errors.lines`), then check out again.",
            errors={"lines": over},
        )


def _refuse_not_on_sale(lines: Sequence[CheckoutLine]) -> NoReturn:
    raise NotOnSale(
        "Some tickets in your cart can no longer be bought. Remove those lines and check out"
        " again.",
        errors={"lines": [_line_ref(line) for line in lines]},
    )


class Closed(Enum):
    """What step 3 found."""

    AS_READ = "closed, and its events are as step 1 read them"
    CART_CHANGED = "the cart changed since step 1: nothing written or locked"
    EVENT_CHANGED = "closed, but an event's title or start changed since step 1 (roll back)"


def _close_cart(connection: Connection, lines: Sequence[CheckoutLine]) -> Closed:
    """Step 3. The order line copies each event's title and start from step 1's read, so an
    event renamed or moved meanwhile must send the checkout back to step 1 too."""
    cart = lines[0]
    events = {line.event_id: line for line in lines}
    event_ids = sorted(events)
    [result] = read_rows(
        connection,
        driver_sql(CLOSE_CART),
        {
            "cart_id": cart.cart_id,
            "seen_updated_at": cart.cart_updated_at,
            "seen_lines": sorted([line.id, line.ticket_type_id, line.quantity] for line in lines),
            "event_ids": event_ids,
            "event_titles": [events[event_id].title for event_id in event_ids],
            "event_starts": [events[event_id].starts_at for event_id in event_ids],
            "lock_tiers": not cart.hold_live,
            "tier_ids": [line.ticket_type_id for line in lines],
        },
    )
    if not result.closed:
        return Closed.CART_CHANGED
    if len(result.event_ids) < len(event_ids):
        # Cancelled (or moved into the past) since step 1: an admin's change committed first.
        locked = set(result.event_ids)
        _refuse_not_on_sale([line for line in lines if line.event_id not in locked])
    return Closed.AS_READ if result.events_as_read else Closed.EVENT_CHANGED


def check_customer_limits(session: Session, user_id: int, lines: Sequence[CheckoutLine]) -> None:
    """Anti-scalping: a tier with `max_per_customer` sells one customer at most that many
    tickets across their confirmed orders, this one included. Raises CustomerLimitExceeded (409)
    listing every line over it. No lock is needed: a user has one open cart, and the next one
    can only be created once the checkout that closed it has committed, so this read sees every
    earlier order of the customer. Costs a query only when a tier in the cart sets a limit."""
    limits = {
        line.ticket_type_id: line.max_per_customer
        for line in lines
        if line.max_per_customer is not None
    }
    if not limits:
        return
    bought = dict(
        session.execute(
            select(OrderItem.ticket_type_id, func.sum(OrderItem.quantity))
            .join(Order, Order.id == OrderItem.order_id)
            .where(
                Order.user_id == user_id,
                Order.status == OrderStatus.CONFIRMED,
                OrderItem.ticket_type_id.in_(limits),
            )
            .group_by(OrderItem.ticket_type_id)
        ).all()
    )
    over = []
    for line in lines:
        limit = limits.get(line.ticket_type_id)
        already = int(bought.get(line.ticket_type_id, 0))
        if limit is not None and already + line.quantity > limit:
            over.append(
                {
                    **_line_ref(line),
                    "requested": line.quantity,
                    "already_bought": already,
                    "limit": limit,
                    "allowed": max(limit - already, 0),
                }
            )
    if over:
        raise CustomerLimitExceeded(
            "Some ticket types sell at most a set number of tickets per customer, counting your"
            " earlier orders. Lower those lines to `allowed` (see `errors.lines`) or remove them,"
            " then check out again.",
            errors={"lines": over},
        )


def _line_ref(line: CheckoutLine) -> dict[str, Any]:
    return {
        "item_id": line.id,
        "ticket_type_id": line.ticket_type_id,
        "ticket_type_name": line.name,
    }


def _refuse_short_lines(lines_with_seats_left: list[tuple[CheckoutLine, int]]) -> None:
    short = [
        {**_line_ref(line), "requested": line.quantity, "available": left}
        for line, left in lines_with_seats_left
        if line.quantity > left
    ]
    if short:
        raise InsufficientAvailability(
            "Not enough tickets left for every line of your cart. Lower those quantities (see"
            " `errors.lines`) and check out again.",
            errors={"lines": short},
        )


# Step 4's per-line arrays (one element per cart line, in step 1's order): parameter, and the
# column of step 1's row it is read from.
LINE_ARRAYS = {
    "event_ids": "event_id",
    "tier_ids": "ticket_type_id",
    "titles": "title",
    "starts": "starts_at",
    "names": "name",
    "prices": "price",
    "currencies": "currency",
    "sales_starts": "sales_start",
    "sales_ends": "sales_end",
    "order_limits": "max_per_order",
    "customer_limits": "max_per_customer",
    "quantities": "quantity",
}


def _sale_parameters(
    user_id: int, lines: Sequence[CheckoutLine], total: Decimal, currency: str
) -> dict[str, Any]:
    """Step 4's parameters (new ticket codes included). Built before step 3: a cart whose hold
    lapsed holds its tiers' locks from step 3 on, and every buyer of those tiers waits for
    them, so nothing that can be done earlier is done under them."""
    cart = lines[0]
    codes = [
        (line.ticket_type_id, new_ticket_code()) for line in lines for _ in range(line.quantity)
    ]
    return {
        "user_id": user_id,
        "cart_id": cart.cart_id,
        "hold_expires_at": cart.hold_expires_at,
        "total": total,
        "currency": currency,
        **{
            parameter: [getattr(line, column) for line in lines]
            for parameter, column in LINE_ARRAYS.items()
        },
        "ticket_tier_ids": [tier_id for tier_id, _ in codes],
        "codes": [code for _, code in codes],
    }


def _sell_and_place(
    connection: Connection, lines: Sequence[CheckoutLine], sale: dict[str, Any]
) -> PlacedOrder | None:
    """Step 4: sell every line and insert the order graph (`sale`: `_sale_parameters`). None
    when nothing was placed (a line no longer fits, a tier is not what step 1 read, or our hold
    lapsed): the caller rolls back to its savepoint, which also undoes the lines that did
    sell."""
    statement = SELL_AND_PLACE if lines[0].hold_live else SELL_AND_PLACE_AGAINST_HOLDS
    rows = read_rows(connection, driver_sql(statement), sale)
    if not rows:
        return None
    placed = {
        line.ticket_type_id: PlacedLine(
            id=0,
            event_id=line.event_id,
            ticket_type_id=line.ticket_type_id,
            event_title=line.title,
            event_starts_at=line.starts_at,
            ticket_type_name=line.name,
            unit_price=line.price,
            quantity=line.quantity,
            line_total=line.price * line.quantity,
        )
        for line in lines
    }
    for row in rows:
        line = placed[row.ticket_type_id]
        line.id = row.line_id
        line.tickets.append(PlacedTicket(id=row.ticket_id, code=row.code))
    created_at = rows[0].created_at
    return PlacedOrder(
        id=rows[0].order_id,
        status=OrderStatus.CONFIRMED,
        total=sale["total"],
        currency=sale["currency"],
        created_at=created_at,
        confirmed_at=created_at,
        cancelled_at=None,
        items=sorted(placed.values(), key=lambda line: line.id),
    )
