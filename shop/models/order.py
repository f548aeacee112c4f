"""Orders, their lines and tickets (week 2). An order never changes after checkout except for
its status; its lines snapshot what was bought at what price."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.models.base import Base, TimestampMixin
from shop.models.enums import EnumString, OrderStatus, TicketStatus, one_of


class Order(TimestampMixin, Base):
    """What a checkout produced. `cart_id` is unique: one cart yields at most one order."""

    __tablename__ = "customer_order"
    __table_args__ = (
        one_of("status", OrderStatus, name="status_valid"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)",
            name="cancelled_at_matches_status",
        ),
        Index("ix_customer_order_user_created", "user_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: an account with orders is not deleted by accident; its sales history stays.
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    cart_id: Mapped[int] = mapped_column(ForeignKey("cart.id", ondelete="RESTRICT"), unique=True)
    status: Mapped[OrderStatus] = mapped_column(
        EnumString(OrderStatus, 16),
        default=OrderStatus.CONFIRMED,
        server_default=OrderStatus.CONFIRMED,
    )
    total: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", lazy="raise", order_by="OrderItem.id"
    )


class OrderItem(Base):
    """One line of an order, with snapshots of the event and tier as they were when bought."""

    __tablename__ = "order_item"
    __table_args__ = (
        UniqueConstraint("order_id", "ticket_type_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("line_total = unit_price * quantity", name="line_total_matches"),
        Index("ix_order_item_ticket_type_id", "ticket_type_id"),
        Index("ix_order_item_event_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id", ondelete="CASCADE"))
    # RESTRICT: a tier or event with sales cannot be deleted (cancel it instead).
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="RESTRICT"))
    ticket_type_id: Mapped[int] = mapped_column(ForeignKey("ticket_type.id", ondelete="RESTRICT"))
    event_title: Mapped[str] = mapped_column(String(200))
    event_starts_at: Mapped[datetime]
    ticket_type_name: Mapped[str] = mapped_column(String(100))
    unit_price: Mapped[Decimal]
    quantity: Mapped[int]
    line_total: Mapped[Decimal]

    order: Mapped[Order] = relationship(back_populates="items", lazy="raise")
    tickets: Mapped[list[Ticket]] = relationship(
        back_populates="order_item", lazy="raise", order_by="Ticket.id"
    )


class Ticket(TimestampMixin, Base):
    """One purchased seat. `code` is random (160 bits, base32): unguessable and QR-friendly."""

    __tablename__ = "ticket"
    __table_args__ = (
        one_of("status", TicketStatus, name="status_valid"),
        CheckConstraint("code ~ '^[A-Z2-7]{32}$'", name="code_format"),
        CheckConstraint(
            "(status = 'used') = (checked_in_at IS NOT NULL)", name="checked_in_matches"
        ),
        Index("ix_ticket_order_item_id", "order_item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_item.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[TicketStatus] = mapped_column(
        EnumString(TicketStatus, 8), default=TicketStatus.VALID, server_default=TicketStatus.VALID
    )
    checked_in_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]

    order_item: Mapped[OrderItem] = relationship(back_populates="tickets", lazy="raise")
