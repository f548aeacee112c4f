"""The closed sets of values the models store: one `StrEnum` each.

The same members serve the models (the column's type and its CHECK constraint), the services'
queries (`Event.status == EventStatus.PUBLISHED`), the schemas (`fields.Enum`) and, through
them, the OpenAPI document's named enum schemas (`EventStatus`, `OrderStatus`, ...). A member
is a `str`, so it compares equal to its value and serialises as it.

In the database a status stays a short VARCHAR checked by a CHECK constraint (not a PostgreSQL
enum type): adding a value is then one migration that replaces the constraint.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import CheckConstraint, Dialect, String, TypeDecorator


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"


class EventStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class CartStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"
    CHECKED_OUT = "checked_out"
    ABANDONED = "abandoned"


class OrderStatus(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class TicketStatus(StrEnum):
    VALID = "valid"
    USED = "used"
    VOID = "void"


E = TypeVar("E", bound=StrEnum)


class EnumString(TypeDecorator[E]):
    """A VARCHAR holding an enum's values: the enum's member in Python, the plain string in SQL
    (so the column type, its migrations and raw SQL stay as they are). A value outside the enum
    fails in Python, before the CHECK constraint would."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


def one_of(column: str, enum: type[StrEnum], name: str) -> CheckConstraint:
    """CHECK (`column` IN (every value of `enum`))."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name)
