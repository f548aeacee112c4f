"""All models, importable from one place (Alembic and `flask erd` read their metadata here)."""

from shop.models.auth import (
    IdempotencyKey,
    RateLimitCounter,
    RateLimitHit,
    RefreshToken,
    RevokedToken,
)
from shop.models.base import Base
from shop.models.cart import Cart, CartItem
from shop.models.catalog import (
    Category,
    Event,
    EventSearchLexeme,
    EventSearchWord,
    PublishedEventDay,
    TicketType,
    Venue,
)
from shop.models.enums import CartStatus, EventStatus, OrderStatus, Role, TicketStatus
from shop.models.order import Order, OrderItem, Ticket
from shop.models.user import User

# Tables of the week-1 schema (ERD v1 and the first migration); the rest arrive in week 2.
WEEK1_TABLES = ("app_user", "category", "venue", "event", "ticket_type")

__all__ = [
    "WEEK1_TABLES",
    "Base",
    "Cart",
    "CartItem",
    "CartStatus",
    "Category",
    "Event",
    "EventSearchLexeme",
    "EventSearchWord",
    "EventStatus",
    "IdempotencyKey",
    "Order",
    "OrderItem",
    "OrderStatus",
    "PublishedEventDay",
    "RateLimitCounter",
    "RateLimitHit",
    "RefreshToken",
    "RevokedToken",
    "Role",
    "Ticket",
    "TicketStatus",
    "TicketType",
    "User",
    "Venue",
]
