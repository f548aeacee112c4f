"""Checkout: a cart becomes an immutable order, in one transaction that cannot oversell.

`place_order` locks the user's cart, then the cart's ticket types in ascending id order (the
order every cart change uses, so nothing can deadlock), re-checks sales windows and seats
(the cart's own holds count for it, other carts' live holds against it), writes the order with
price/name/date snapshots and one ticket per seat, raises `sold` with a conditional UPDATE
(`sold + n <= capacity`, backed by a CHECK), and closes the cart. Any refusal raises before
the caller commits, so a failed checkout leaves no trace. Payment is simulated: the order is
`confirmed` at once (docs/decisions.md says where a payment provider would plug in).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.orm import Session

from shop.errors import (
    CartEmpty,
    CustomerLimitExceeded,
    InsufficientAvailability,
    NotOnSale,
    PriceChanged,
)
from shop.models import Cart, CartItem, Event, Order, OrderItem, Ticket, TicketType
from shop.services.catalog import tier_on_sale


def new_ticket_code() -> str:
    """32 characters of RFC 4648 base32 (160 random bits): unguessable, QR alphanumeric-safe."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


def place_order(
    session: Session,
    user_id: int,
    *,
    expected_total: Money | None = None,
    lock_timeout_ms: int = 3000,
) -> Order:
    """Turn the user's cart into a confirmed order. Raises CartEmpty (422), NotOnSale (409),
    InsufficientAvailability (409, listing every line that cannot be filled) or PriceChanged
    (409); the caller commits on success and rolls back on any error."""
    session.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'"))
    cart = session.scalar(
        select(Cart).where(Cart.user_id == user_id, Cart.status == "active").with_for_update()
    )
    lines = (
        list(
            session.scalars(
                select(CartItem).where(CartItem.cart_id == cart.id).order_by(CartItem.id)
            )
        )
        if cart
        else []
    )
    if not lines:
        raise CartEmpty()

    tiers = {
        tier.id: tier
        for tier in session.scalars(
            select(TicketType)
            .where(TicketType.id.in_({line.ticket_type_id for line in lines}))
            .order_by(TicketType.id)
            .with_for_update()
        )
    }
    events = {
        event.id: event
        for event in session.scalars(
            select(Event).where(Event.id.in_({t.event_id for t in tiers.values()}))
        )
    }
    now = session.scalar(select(func.now()))

    not_on_sale = [
        line
        for line in lines
        if not tier_on_sale(events[line.event_id], tiers[line.ticket_type_id], now)
    ]
    if not_on_sale:
        raise NotOnSale(
            "Some tickets in your cart can no longer be bought. Remove those lines and check out"
            " again.",
            errors={"lines": [_line_ref(line, tiers) for line in not_on_sale]},
        )

    check_customer_limits(session, user_id, lines, tiers)

    held_by_others = dict(
        session.execute(
            select(CartItem.ticket_type_id, func.sum(CartItem.quantity))
            .join(Cart, Cart.id == CartItem.cart_id)
            .where(
                CartItem.ticket_type_id.in_(tiers),
                Cart.status == "active",
                Cart.hold_expires_at > func.now(),
                Cart.id != cart.id,
            )
            .group_by(CartItem.ticket_type_id)
        ).all()
    )
    short = []
    for line in lines:
        tier = tiers[line.ticket_type_id]
        left = max(tier.capacity - tier.sold - int(held_by_others.get(tier.id, 0)), 0)
        if line.quantity > left:
            short.append({**_line_ref(line, tiers), "requested": line.quantity, "available": left})
    if short:
        raise InsufficientAvailability(
            "Not enough tickets left for every line of your cart. Lower those quantities (see"
            " `errors.lines`) and check out again.",
            errors={"lines": short},
        )

    currency = tiers[lines[0].ticket_type_id].currency
    total = sum(
        (tiers[line.ticket_type_id].price * line.quantity for line in lines), Decimal("0.00")
    )
    if expected_total is not None and (
        expected_total.amount != total or expected_total.currency != currency
    ):
        raise PriceChanged(
            f"The total is now {total} {currency}, not the {expected_total.amount}"
            f" {expected_total.currency} you expected. Review your cart and check out again.",
            # Extra problem members are wire names: camelCase.
            expectedTotal={
                "amount": str(expected_total.amount),
                "currency": expected_total.currency,
            },
            currentTotal={"amount": str(total), "currency": currency},
        )

    order = Order(
        user_id=user_id,
        cart_id=cart.id,
        status="confirmed",
        total=total,
        currency=currency,
        confirmed_at=now,
    )
    # The whole graph is built in memory (order.items, item.tickets), so the caller can answer
    # with it after the flush without reading it back.
    order.items = []
    session.add(order)
    for line in lines:
        tier = tiers[line.ticket_type_id]
        event = events[line.event_id]
        item = OrderItem(
            event_id=event.id,
            ticket_type_id=tier.id,
            event_title=event.title,
            event_starts_at=event.starts_at,
            ticket_type_name=tier.name,
            unit_price=tier.price,
            quantity=line.quantity,
            line_total=tier.price * line.quantity,
        )
        item.tickets = [Ticket(code=new_ticket_code()) for _ in range(line.quantity)]
        order.items.append(item)
        _sell(session, tier, line.quantity)
    cart.status = "checked_out"
    cart.hold_expires_at = None
    session.flush()
    return order


def check_customer_limits(
    session: Session, user_id: int, lines: list[CartItem], tiers: dict[int, TicketType]
) -> None:
    """Anti-scalping: a tier with `max_per_customer` sells one customer at most that many
    tickets across their confirmed orders, this one included. Raises CustomerLimitExceeded (409)
    listing every line over it. Checkout holds the user's one active cart locked, so two
    checkouts of one customer cannot both pass this check."""
    limits = {
        tier_id: tier.max_per_customer
        for tier_id, tier in tiers.items()
        if tier.max_per_customer is not None
    }
    if not limits:
        return  # the common case costs no query
    bought = dict(
        session.execute(
            select(OrderItem.ticket_type_id, func.sum(OrderItem.quantity))
            .join(Order, Order.id == OrderItem.order_id)
            .where(
                Order.user_id == user_id,
                Order.status == "confirmed",
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
                    **_line_ref(line, tiers),
                    "requested": line.quantity,
                    "alreadyBought": already,
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


def _line_ref(line: CartItem, tiers: dict[int, TicketType]) -> dict:
    tier = tiers[line.ticket_type_id]
    return {"itemId": line.id, "ticketTypeId": tier.id, "ticketTypeName": tier.name}


def _sell(session: Session, tier: TicketType, quantity: int) -> None:
    """Raise `sold` only if the seats exist: the last line of defence after the checks above
    (and the CHECK constraint after this). `sold` is incremented, never written from a value
    read earlier."""
    sold = session.execute(
        update(TicketType)
        .where(and_(TicketType.id == tier.id, TicketType.sold + quantity <= TicketType.capacity))
        .values(sold=TicketType.sold + quantity)
        .returning(TicketType.sold)
        .execution_options(synchronize_session=False)
    ).scalar()
    if sold is None:
        raise InsufficientAvailability(
            f"{tier.name} sold out while you were checking out. Remove it from your cart (or lower"
            " its quantity) and check out again.",
            errors={"lines": [{"ticketTypeId": tier.id, "requested": quantity}]},
        )
    session.expire(tier, ["sold"])
