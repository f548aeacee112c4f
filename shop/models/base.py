"""Declarative base with a naming convention, so constraint names are stable in migrations."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import DateTime, MetaData, Numeric, Table, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Money is NUMERIC(10, 2): exact, never a float. Amounts up to 99 999 999.99.
Money = Numeric(10, 2, asdecimal=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # Every model maps one Table (SQLAlchemy types `__table__` as any FROM clause, which could
    # be a join or a select): so typed, `Model.__table__.c.name` type-checks in Core statements.
    __table__: ClassVar[Table]

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: DateTime(timezone=True), Decimal: Money},
    )


class TimestampMixin:
    """`created_at` and `updated_at`, from the database clock.

    Every timestamp the application writes is PostgreSQL's `now()` (the transaction's start),
    never Python's clock: the times one change records agree exactly (an order's `createdAt`
    and `confirmedAt`), whichever machine the code runs on."""

    created_at: Mapped[datetime] = mapped_column(default=func.now(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=func.now(), onupdate=func.now(), server_default=func.now()
    )
