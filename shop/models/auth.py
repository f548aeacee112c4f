"""What auth and idempotent checkout need to remember (week 2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shop.models.base import Base


class RevokedToken(Base):
    """A JWT that was logged out. Kept in PostgreSQL (not memory) so every worker and instance
    refuses it; rows past `expires_at` can be deleted since the token is dead anyway."""

    __tablename__ = "revoked_token"
    __table_args__ = (
        CheckConstraint("token_type IN ('access', 'refresh')", name="token_type_valid"),
        Index("ix_revoked_token_expires_at", "expires_at"),
    )

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_type: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime] = mapped_column(default=func.now(), server_default=func.now())


class IdempotencyKey(Base):
    """A request's `Idempotency-Key`, its fingerprint and the response it produced.

    The row is inserted and answered in the transaction that does the work: a request still
    running holds it uncommitted (a duplicate waits on the unique index), a request that dies
    leaves nothing behind."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        CheckConstraint("length(key) BETWEEN 1 AND 255", name="key_length"),
        CheckConstraint(
            "(completed_at IS NULL) = (response_status IS NULL)", name="completed_has_response"
        ),
        Index("ix_idempotency_key_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None]
    # The answer exactly as sent (bytes) and its headers, so a replay is the same answer.
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_headers: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=func.now(), server_default=func.now())
    completed_at: Mapped[datetime | None]
