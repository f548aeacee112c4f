"""What auth and idempotent checkout need to remember (week 2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Double,
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
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=func.now(), server_default=func.now())
    completed_at: Mapped[datetime | None]


class RefreshToken(Base):
    """A refresh token that was issued, so that it can be used once (rotation).

    Every sign-in starts a *family* (`family_id`, the first token's jti). Using a refresh token
    marks it `used_at` and issues the next one in the same family. A token presented again
    after use means it was stolen (or replayed): the whole family is revoked, so neither the
    thief nor the victim can refresh any more and the victim signs in again. Logout revokes the
    family too."""

    __tablename__ = "refresh_token"
    __table_args__ = (
        Index("ix_refresh_token_family_id", "family_id"),
        Index("ix_refresh_token_expires_at", "expires_at"),
    )

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=func.now(), server_default=func.now())


class RateLimitHit(Base):
    """One counted request of a moving-window rate limit (shop/ratelimit.py). Shared by every
    worker and instance because it lives in PostgreSQL; rows older than their window are
    deleted as the key is used again, and by `flask purge`. Times are epoch seconds from the
    database clock, so instances with skewed clocks still agree."""

    __tablename__ = "rate_limit_hit"
    __table_args__ = (
        Index("ix_rate_limit_hit_key_hit_at", "key", "hit_at"),
        Index("ix_rate_limit_hit_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    hit_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)


class RateLimitCounter(Base):
    """A fixed-window rate-limit counter (the `limits` storage interface needs one too)."""

    __tablename__ = "rate_limit_counter"
    __table_args__ = (Index("ix_rate_limit_counter_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int]
    expires_at: Mapped[float] = mapped_column(Double)
