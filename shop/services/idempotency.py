"""Idempotency keys for checkout, with Stripe's semantics.

The first request with a key claims it (a row committed before the work starts); its answer —
success or 4xx — is stored with the order in the same transaction and replayed to any retry
with `Idempotent-Replayed: true`. The same key with a different request is a 422; while the
first is still running, a 409. 5xx and 429 answers are not stored: the row is released so a
retry runs again. Keys are kept at least 24 hours (`flask purge` deletes older ones).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shop.errors import IdempotencyKeyInProgress, IdempotencyKeyReused
from shop.models import IdempotencyKey

# A claim older than this with no answer belongs to a request that died: it may be taken over.
ABANDONED_AFTER = timedelta(minutes=2)
KEEP_FOR = timedelta(hours=24)


@dataclass
class Claim:
    record_id: int | None = None
    replay_status: int | None = None
    replay_body: dict | None = None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Same request ⇔ same fingerprint: method, path and the JSON body with sorted keys."""
    try:
        canonical = (
            json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")) if body else ""
        )
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


def claim(
    session: Session, user_id: int, key: str, request_fingerprint: str, now: datetime
) -> Claim:
    """Claim `key` for this request, or return the stored answer to replay. The caller commits
    right away, so a concurrent request with the same key sees the claim."""
    record_id = session.scalar(
        insert(IdempotencyKey)
        .values(user_id=user_id, key=key, request_fingerprint=request_fingerprint, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.id)
    )
    if record_id is not None:
        return Claim(record_id=record_id)
    existing = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    if existing.completed_at is not None:
        return Claim(replay_status=existing.response_status, replay_body=existing.response_body)
    taken_over = session.scalar(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.id == existing.id,
            IdempotencyKey.completed_at.is_(None),
            IdempotencyKey.created_at < now - ABANDONED_AFTER,
        )
        .values(created_at=now)
        .returning(IdempotencyKey.id)
    )
    if taken_over is not None:
        return Claim(record_id=taken_over)
    raise IdempotencyKeyInProgress(headers={"Retry-After": "1"})


def complete(session: Session, record_id: int, status: int, body: dict) -> None:
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == record_id)
        .values(response_status=status, response_body=body, completed_at=func.now())
    )


def release(session: Session, record_id: int) -> None:
    """Forget a claim whose request ended in a 5xx or 429, so a retry runs again."""
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record_id))


def purge(session: Session, now: datetime) -> int:
    """Delete keys older than 24 hours; returns how many."""
    result = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP_FOR)
    )
    return result.rowcount
