"""Carts and their lines (week 2). The lines of an active cart with an unexpired hold are the
seat holds: there is no separate reservation table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.models.base import Base, TimestampMixin
from shop.models.catalog import Event, TicketType
from shop.models.enums import CartStatus, EnumString, one_of


class Cart(TimestampMixin, Base):
    """A guest's or a user's cart. A guest cart is found by the SHA-256 of its token (the token
    itself is never stored); it gets a `user_id` when it is merged into a signed-in user's cart."""

    __tablename__ = "cart"
    __table_args__ = (
        one_of("status", CartStatus, name="status_valid"),
        CheckConstraint("user_id IS NOT NULL OR guest_token_hash IS NOT NULL", name="has_owner"),
        CheckConstraint("hold_renewals >= 0", name="hold_renewals_not_negative"),
        # At most one active cart per user, enforced by the database.
        Index(
            "uq_cart_active_user",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'active' AND user_id IS NOT NULL"),
        ),
        Index("ix_cart_active_hold", "hold_expires_at", postgresql_where=text("status = 'active'")),
        # Serves the per-address cap: the open guest carts one client address created.
        Index(
            "ix_cart_active_guest_client_address",
            "client_address",
            postgresql_where=text("status = 'active' AND user_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    guest_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    status: Mapped[CartStatus] = mapped_column(
        EnumString(CartStatus, 16), default=CartStatus.ACTIVE, server_default=CartStatus.ACTIVE
    )
    hold_expires_at: Mapped[datetime | None]
    hold_renewals: Mapped[int] = mapped_column(default=0, server_default="0")
    # When the cart first held seats. Never reset while the cart lives, so a hold's whole life
    # is bounded (`CART_HOLD_MAX_MINUTES`) however often it lapses and restarts.
    hold_started_at: Mapped[datetime | None]
    # The client address that created a guest cart: one address holds a bounded number of seats
    # across all its guest carts (`CART_MAX_SEATS_PER_ADDRESS`).
    client_address: Mapped[str | None] = mapped_column(String(64))

    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", lazy="raise", order_by="CartItem.id", cascade="all, delete-orphan"
    )


class CartItem(TimestampMixin, Base):
    """One line of a cart: a quantity of one ticket type, and the price it was added at."""

    __tablename__ = "cart_item"
    __table_args__ = (
        UniqueConstraint("cart_id", "ticket_type_id"),
        # The line's event and ticket type must agree: the pair must exist in ticket_type.
        ForeignKeyConstraint(
            ["event_id", "ticket_type_id"],
            ["ticket_type.event_id", "ticket_type.id"],
            ondelete="CASCADE",
        ),
        Index("ix_cart_item_ticket_type_id", "ticket_type_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("cart.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    ticket_type_id: Mapped[int]
    quantity: Mapped[int]
    unit_price: Mapped[Decimal]

    cart: Mapped[Cart] = relationship(back_populates="items", lazy="raise")
    ticket_type: Mapped[TicketType] = relationship(
        lazy="raise",
        primaryjoin="CartItem.ticket_type_id == TicketType.id",
        foreign_keys="CartItem.ticket_type_id",
        viewonly=True,
    )
    event: Mapped[Event] = relationship(lazy="raise", viewonly=True)
