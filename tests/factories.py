"""Factories that arrange test data through the models and return detached, loaded objects."""

from __future__ import annotations

import functools
import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask

from shop.extensions import db
from shop.models import Cart, CartItem, Category, Event, TicketType, User, Venue
from shop.services.passwords import hash_password

_counter = itertools.count(1)
DEFAULT_PASSWORD = "Correct-Horse-9"


@functools.cache
def _password_hash(password: str) -> str:
    # Argon2 is slow on purpose; hashing the same test password once keeps the suite fast.
    return hash_password(password)


def now() -> datetime:
    return datetime.now(UTC)


class Factories:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def _save(self, obj: Any) -> Any:
        with self.app.app_context():
            db.session.add(obj)
            db.session.commit()
            db.session.refresh(obj)
            db.session.expunge(obj)
        return obj

    def user(self, **fields: Any) -> User:
        n = next(_counter)
        password = fields.pop("password", DEFAULT_PASSWORD)
        values = {"email": f"user{n}@example.com", "name": f"User {n}", "role": "customer"}
        values.update(fields)
        return self._save(User(password_hash=_password_hash(password), **values))

    def category(self, **fields: Any) -> Category:
        n = next(_counter)
        values = {"slug": f"category-{n}", "name": f"Category {n}"}
        values.update(fields)
        return self._save(Category(**values))

    def venue(self, **fields: Any) -> Venue:
        n = next(_counter)
        values = {"name": f"Venue {n}", "address": f"Street {n}", "city": "Copenhagen"}
        values.update(fields)
        return self._save(Venue(**values))

    def event(self, **fields: Any) -> Event:
        n = next(_counter)
        starts_at = fields.pop("starts_at", now() + timedelta(days=30))
        values: dict[str, Any] = {
            "title": f"Event {n}",
            "description": "A test event.",
            "starts_at": starts_at,
            "ends_at": fields.pop("ends_at", starts_at + timedelta(hours=3)),
            "status": "published",
            "currency": "DKK",
        }
        if "venue_id" not in fields:
            values["venue_id"] = self.venue().id
        if "category_id" not in fields:
            values["category_id"] = self.category().id
        values.update(fields)
        return self._save(Event(**values))

    def ticket_type(self, event: Event | None = None, **fields: Any) -> TicketType:
        event = event or self.event()
        n = next(_counter)
        values: dict[str, Any] = {
            "event_id": event.id,
            "currency": event.currency,
            "name": f"Tier {n}",
            "price": Decimal("250.00"),
            "capacity": 100,
            "sold": 0,
            "max_per_order": 10,
        }
        values.update(fields)
        return self._save(TicketType(**values))

    def cart(
        self,
        lines: list[tuple[TicketType, int]] = (),
        *,
        user: User | None = None,
        hold_minutes: float = 15,
        status: str = "active",
    ) -> Cart:
        """A cart holding `lines` (tier, quantity); a negative `hold_minutes` means expired."""
        token_hash = None if user else hashlib.sha256(f"guest-{next(_counter)}".encode()).digest()
        cart = Cart(
            user_id=user.id if user else None,
            guest_token_hash=token_hash,
            status=status,
            hold_expires_at=now() + timedelta(minutes=hold_minutes),
        )
        cart.items = [
            CartItem(
                event_id=tier.event_id,
                ticket_type_id=tier.id,
                quantity=quantity,
                unit_price=tier.price,
            )
            for tier, quantity in lines
        ]
        return self._save(cart)
