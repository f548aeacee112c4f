"""Accounts (week 1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shop.models.base import Base, TimestampMixin
from shop.models.enums import EnumString, Role, one_of


class User(TimestampMixin, Base):
    """A customer or an admin. Only a password hash is stored, never the password."""

    __tablename__ = "app_user"
    __table_args__ = (
        # Case-insensitive uniqueness: "Ann@x.dk" and "ann@x.dk" are one account.
        Index("uq_app_user_email_lower", text("lower(email)"), unique=True),
        one_of("role", Role, name="role_valid"),
        CheckConstraint("email = btrim(email) AND position('@' in email) > 1", name="email_shape"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(
        EnumString(Role, 16), default=Role.CUSTOMER, server_default=Role.CUSTOMER
    )
    last_login_at: Mapped[datetime | None]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"
