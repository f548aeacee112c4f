"""Checkout: a cart becomes an immutable order, in one transaction that cannot oversell.

The plain version of a checkout locks every ticket type first, then reads, checks and writes
under those locks. With many buyers on one tier that lock is the queue everybody waits in, so
this one holds it as briefly as possible (shop/services/locking.py has the lock order):

1. close the user's cart (`UPDATE ... RETURNING`): locks it, so a double-click or a cart change
   waits, and tells whether its hold is still live;
2. read the lines with their tiers, events (`FOR SHARE`: an admin cancelling the event waits for
   us, or we see it cancelled) and the seats other carts hold — no tier lock yet;
3. check sales windows, availability (the cart's own holds count for it, other carts' live holds
   against it) and the expected total. A tier that is sold out is refused here, without queuing
   behind the buyers who hold its lock (the sold-out fast path);
4. raise `sold` with a conditional `UPDATE ... SET sold = sold + n WHERE sold + n <= capacity`
   per tier, ascending id — this takes the tier lock, late;
5. insert the order, its lines and one ticket per seat in one statement, and let the caller
   commit. The lock is held for two round trips and the commit.

Why step 4 can trust step 3: cart changes keep `sold + live holds <= capacity` under the tier
lock, so a cart whose own hold is live owns its seats, and the UPDATE's condition (re-checked by
PostgreSQL on the newest row after any wait) is only the last line of defence, with the CHECK
constraint behind it. A cart whose hold lapsed owns nothing: it locks its tiers first and
counts other carts' live holds again under the lock (one statement more).

Any refusal raises before the caller commits, so a failed checkout leaves no trace. Every
timestamp comes from the database clock (`now()`, the transaction's start), so `createdAt` and
`confirmedAt` are the same instant. Payment is simulated: the order is `confirmed` at once
(docs/decisions.md says where a payment provider would plug in).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from shop.models import Order, OrderItem, OrderStatus, TicketStatus
from shop.services.availability import (
    HELD_SQL,
    LIVE_HOLD_SQL,
    available_by_ticket_type,
    seats_left,
)
from shop.services.catalog import tier_on_sale
from shop.services.errors import (
    CartEmpty,
    CustomerLimitExceeded,
    InsufficientAvailability,
    NotOnSale,
    PriceChanged,
)
from shop.services.locking import lock_ticket_types


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


# Step 1. The sub-select locks the open cart; the outer UPDATE closes it and reports whether its
# hold was still live (`hold_expires_at` is cleared, so it is read before the update).
CLOSE_CART = text(
    """
    UPDATE cart SET status = 'checked_out', hold_expires_at = NULL, updated_at = now()
    FROM (SELECT id, hold_expires_at FROM cart
          WHERE user_id = :user_id AND status = 'active' FOR UPDATE) AS open_cart
    WHERE cart.id = open_cart.id
    RETURNING cart.id, coalesce(open_cart.hold_expires_at > now(), false) AS hold_live
    """
)

# Step 2. Lines, tiers, events and other carts' live holds on those tiers, in tier id order.
CART_LINES = text(
    f"""
    WITH lines AS (
        SELECT id, event_id, ticket_type_id, quantity FROM cart_item WHERE cart_id = :cart_id
    ),
    held AS ({
        HELD_SQL.format(
            tier_filter="ci.ticket_type_id IN (SELECT ticket_type_id FROM lines)"
            " AND ci.cart_id <> :cart_id"
        )
    })
    SELECT l.id, l.quantity, l.ticket_type_id, t.name, t.price, t.currency, t.capacity, t.sold,
           t.sales_start, t.sales_end, t.max_per_customer, l.event_id, e.title, e.starts_at,
           e.status,
           coalesce(h.held, 0)::int AS held_by_others, now() AS now
    FROM lines l
    JOIN ticket_type t ON t.id = l.ticket_type_id
    JOIN event e ON e.id = l.event_id
    LEFT JOIN held h ON h.ticket_type_id = l.ticket_type_id
    ORDER BY l.ticket_type_id
    FOR SHARE OF e
    """
)

# Step 4, own hold live: the seats are ours already; the condition only guards against bugs.
SELL = text(
    "UPDATE ticket_type SET sold = sold + :quantity"
    " WHERE id = :tier_id AND sold + :quantity <= capacity RETURNING sold"
)
# Step 4, hold lapsed: run after the tier is locked, so other carts' holds are counted afresh.
SELL_AGAINST_HOLDS = text(
    f"""
    UPDATE ticket_type t SET sold = t.sold + :quantity
    WHERE t.id = :tier_id AND t.sold + :quantity + coalesce((
        SELECT sum(ci.quantity) FROM cart_item ci JOIN cart c ON c.id = ci.cart_id
        WHERE ci.ticket_type_id = :tier_id AND ci.cart_id <> :cart_id AND {LIVE_HOLD_SQL}
    ), 0) <= t.capacity
    RETURNING t.sold
    """
)

# Step 5. The order, its lines and its tickets in one round trip. Lines and tickets come in as
# arrays (one element per line, one per ticket); each ticket finds its line by ticket type
# (an order has one line per ticket type).
INSERT_ORDER = text(
    """
    WITH new_order AS (
        INSERT INTO customer_order
            (user_id, cart_id, status, total, currency, confirmed_at, created_at, updated_at)
        VALUES (:user_id, :cart_id, 'confirmed', :total, :currency, now(), now(), now())
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
)


def place_order(
    session: Session, user_id: int, *, expected_total: Money | None = None
) -> PlacedOrder:
    """Turn the user's cart into a confirmed order, in the steps the module docstring lists.
    Raises CartEmpty (422), NotOnSale (409), CustomerLimitExceeded (409, a tier's
    maxPerCustomer across the customer's orders), InsufficientAvailability (409, listing every
    line that cannot be filled) or PriceChanged (409); the caller commits on success and rolls
    back on any error."""
    # Core statements on the session's connection: no ORM objects to build on the hot path.
    connection = session.connection()
    cart = connection.execute(CLOSE_CART, {"user_id": user_id}).first()
    lines = connection.execute(CART_LINES, {"cart_id": cart.id}).all() if cart else []
    if not lines:
        raise CartEmpty()

    now = lines[0].now
    not_on_sale = [line for line in lines if not tier_on_sale(line, line, now)]
    if not_on_sale:
        raise NotOnSale(
            "Some tickets in your cart can no longer be bought. Remove those lines and check out"
            " again.",
            errors={"lines": [_line_ref(line) for line in not_on_sale]},
        )
    check_customer_limits(session, user_id, lines)
    _refuse_short_lines(
        [(line, seats_left(line.capacity, line.sold, line.held_by_others)) for line in lines]
    )

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

    _sell(session, connection, cart, lines)
    return _insert_order(connection, user_id, cart.id, lines, total, currency)


def check_customer_limits(session: Session, user_id: int, lines) -> None:
    """Anti-scalping: a tier with `max_per_customer` sells one customer at most that many
    tickets across their confirmed orders, this one included. Raises CustomerLimitExceeded (409)
    listing every line over it. Checkout holds the user's one open cart locked (step 1), so two
    checkouts of one customer cannot both pass this check. Costs a query only when a tier in
    the cart sets a limit."""
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


def _line_ref(line) -> dict:
    return {
        "item_id": line.id,
        "ticket_type_id": line.ticket_type_id,
        "ticket_type_name": line.name,
    }


def _refuse_short_lines(lines_with_seats_left: list[tuple]) -> None:
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


def _sell(session: Session, connection: Connection, cart, lines) -> None:
    """Raise `sold` per line (ascending tier id, the lock order). `sold` is incremented, never
    written from a value read earlier; a row that no longer fits returns nothing."""
    if not cart.hold_live:
        lock_ticket_types(session, [line.ticket_type_id for line in lines])
    for line in lines:
        params = {"quantity": line.quantity, "tier_id": line.ticket_type_id, "cart_id": cart.id}
        sold = connection.execute(SELL if cart.hold_live else SELL_AGAINST_HOLDS, params).first()
        if sold is None:
            # Someone was faster between our read and the lock: say what is left now.
            left = available_by_ticket_type(
                session, [line.ticket_type_id], exclude_cart_id=cart.id
            )[line.ticket_type_id]
            raise InsufficientAvailability(
                f"{line.name} sold out while you were checking out. Lower the quantity (see"
                " `errors.lines`) and check out again.",
                errors={
                    "lines": [{**_line_ref(line), "requested": line.quantity, "available": left}]
                },
            )


def _insert_order(
    connection: Connection, user_id: int, cart_id: int, lines, total: Decimal, currency: str
) -> PlacedOrder:
    codes = [
        (line.ticket_type_id, new_ticket_code()) for line in lines for _ in range(line.quantity)
    ]
    rows = connection.execute(
        INSERT_ORDER,
        {
            "user_id": user_id,
            "cart_id": cart_id,
            "total": total,
            "currency": currency,
            "event_ids": [line.event_id for line in lines],
            "tier_ids": [line.ticket_type_id for line in lines],
            "titles": [line.title for line in lines],
            "starts": [line.starts_at for line in lines],
            "names": [line.name for line in lines],
            "prices": [line.price for line in lines],
            "quantities": [line.quantity for line in lines],
            "ticket_tier_ids": [tier_id for tier_id, _ in codes],
            "codes": [code for _, code in codes],
        },
    ).all()
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
        total=total,
        currency=currency,
        created_at=created_at,
        confirmed_at=created_at,
        cancelled_at=None,
        items=sorted(placed.values(), key=lambda line: line.id),
    )
