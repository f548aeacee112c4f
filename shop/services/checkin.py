"""Scanning tickets at the door."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.models import OrderItem, Ticket, TicketStatus
from shop.services.errors import TicketAlreadyUsed, TicketNotFound, TicketVoid


def check_in(session: Session, code: str, now: datetime) -> tuple[Ticket, OrderItem]:
    """Mark a ticket used. The row lock makes two scanners at two doors agree: the second scan
    is refused (TicketAlreadyUsed) saying when the first one happened."""
    ticket = session.scalar(
        select(Ticket).where(Ticket.code == code.strip().upper()).with_for_update()
    )
    if ticket is None:
        raise TicketNotFound()
    if ticket.status == TicketStatus.VOID:
        raise TicketVoid(
            f"This ticket was voided at {ticket.voided_at.isoformat()} (its order or event was"
            " cancelled). Do not let it in.",
            voided_at=ticket.voided_at,
        )
    if ticket.status == TicketStatus.USED:
        raise TicketAlreadyUsed(
            f"This ticket was already scanned at {ticket.checked_in_at.isoformat()}. Do not let it"
            " in again.",
            first_checked_in_at=ticket.checked_in_at,
        )
    ticket.status = TicketStatus.USED
    ticket.checked_in_at = now
    session.flush()
    return ticket, session.get(OrderItem, ticket.order_item_id)
