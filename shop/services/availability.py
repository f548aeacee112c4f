"""Seat availability, defined once: every consumer (listing, detail, cart, merge, checkout,
reports) asks this module, so the rule cannot drift between them.

**A live hold** is a line of a cart whose status is `active` and whose `hold_expires_at` is in
the future (PostgreSQL's `now()`, the transaction's start time). Holds are not swept by a job:
an expired hold frees its seats the moment it expires, because nothing counts it any more.

**Seats left** of a tier, for someone: `capacity - sold - seats in live holds of other carts`,
never below zero. The public (who holds nothing) sees `capacity - sold - all live holds`.

The rule exists in three forms that say the same thing:
- SQLAlchemy (`live_hold()`, `held_by_others()`, `available_expression()`), built once at
  import so the statement object and its compiled SQL are reused;
- SQL text (`LIVE_HOLD_SQL`, `HELD_SQL`, `seats_left_sql()`) for the hand-written statements
  of the catalogue and the reports;
- Python (`seats_left()`) for rows already read.
tests/test_availability.py proves for each consumer that an expired hold does not count.

The order in which code paths that move seats take their row locks is in
`shop.services.locking`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    ColumnElement,
    Integer,
    SQLColumnExpression,
    Subquery,
    Text,
    and_,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from shop.models import Cart, CartItem, CartStatus, TicketType

# --- the rule in SQL text (alias `c` is the cart) -------------------------------------------------

LIVE_HOLD_SQL = "c.status = 'active' AND c.hold_expires_at > now()"

# (ticket_type_id, held) for the tiers a statement's `:tier_filter` selects; the caller's SQL
# substitutes its own condition on `ci` (a cart_item alias) for `{tier_filter}`.
HELD_SQL = (
    "SELECT ci.ticket_type_id, sum(ci.quantity) AS held"
    " FROM cart_item ci JOIN cart c ON c.id = ci.cart_id"
    f" WHERE ({{tier_filter}}) AND {LIVE_HOLD_SQL}"
    " GROUP BY ci.ticket_type_id"
)


def seats_left_sql(capacity: str, sold: str, held: str) -> str:
    """SQL for seats left from three SQL expressions (`held` may be NULL: no holds)."""
    return f"greatest({capacity} - {sold} - coalesce({held}, 0), 0)"


def seats_left(capacity: int, sold: int, held: int) -> int:
    """Seats left from figures already read (`held`: other carts' live holds)."""
    return max(capacity - sold - held, 0)


# --- the rule in SQLAlchemy ----------------------------------------------------------------------


def live_hold() -> ColumnElement[bool]:
    """The condition on `Cart` that makes its lines hold seats."""
    return and_(Cart.status == CartStatus.ACTIVE, Cart.hold_expires_at > func.now())


# Seats per tier held by live holds of carts other than `exclude_cart_ids` (pass `[]` for
# everyone's holds). One statement object for the life of the process: SQLAlchemy compiles it
# once, PostgreSQL gets the same text every time. Array parameters (`= ANY`) keep the SQL text
# the same whatever the number of tiers or carts.
HELD_BY_OTHERS = (
    select(CartItem.ticket_type_id, func.sum(CartItem.quantity))
    .join(Cart, Cart.id == CartItem.cart_id)
    .where(
        CartItem.ticket_type_id == func.any(bindparam("tier_ids", type_=ARRAY(Integer))),
        live_hold(),
        Cart.id != func.all(bindparam("exclude_cart_ids", type_=ARRAY(Integer))),
    )
    .group_by(CartItem.ticket_type_id)
)


def held_by_others(
    session: Session, tier_ids: Iterable[int], exclude_cart_ids: Iterable[int] = ()
) -> dict[int, int]:
    """Seats held per tier by live holds of carts not in `exclude_cart_ids` (absent: 0)."""
    ids = list(tier_ids)
    if not ids:
        return {}
    rows = session.execute(
        HELD_BY_OTHERS, {"tier_ids": ids, "exclude_cart_ids": list(exclude_cart_ids)}
    )
    return {tier_id: int(held) for tier_id, held in rows}


def held_by_others_scalar(
    ticket_type_id: SQLColumnExpression[int], exclude_cart_id: int | SQLColumnExpression[int]
) -> ColumnElement[int]:
    """Correlated scalar for a query that reads tiers (or cart lines): seats of
    `ticket_type_id` in live holds of carts other than `exclude_cart_id` (0 when none), so one
    statement can return a cart's lines with what is left for them."""
    return (
        select(func.coalesce(func.sum(CartItem.quantity), 0))
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(CartItem.ticket_type_id == ticket_type_id, live_hold(), Cart.id != exclude_cart_id)
        .scalar_subquery()
    )


def held_by_ticket_type() -> Subquery:
    """Subquery (ticket_type_id, held): seats held per tier by live holds, computed once per
    query and joined, rather than once per tier."""
    return (
        select(CartItem.ticket_type_id, func.sum(CartItem.quantity).label("held"))
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(live_hold())
        .group_by(CartItem.ticket_type_id)
        .subquery("held")
    )


def available_expression() -> ColumnElement[int]:
    """Seats left for the public of the TicketType in the surrounding query (correlated): the
    SQLAlchemy form of `seats_left_sql`, for statements that build whole answers in PostgreSQL
    (the catalogue's listing and detail).

    Every live hold is summed per tier once per statement (`held_by_ticket_type`, read from the
    live carts: none most of the time, hundreds during an on-sale rush), as a JSON object keyed
    by tier id, and each tier looks its own sum up in it. Summed per tier instead, as a join of
    the tier's cart lines with the live carts, PostgreSQL started from the live carts for every
    tier: a rush's 500 live holds made each listing page of 20 events read every live cart 41
    times (120 000 buffers, 9-27 ms of PostgreSQL CPU instead of 0.25 ms)."""
    held = held_by_ticket_type()
    held_per_tier = select(func.jsonb_object_agg(held.c.ticket_type_id, held.c.held))
    held_here = held_per_tier.scalar_subquery().op("->>")(cast(TicketType.id, Text))
    held_seats = func.coalesce(cast(held_here, Integer), 0)
    return func.greatest(TicketType.capacity - TicketType.sold - held_seats, 0)
