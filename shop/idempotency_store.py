"""Idempotency keys, with Stripe's semantics, tied to the transaction doing the work.

The first request with a key claims it by inserting its row *inside its own transaction*, and
stores its answer in that row before the one commit. So:

- a duplicate arriving while the first runs waits on the row's unique index, and when the
  first commits it finds the answer and replays it (status, body bytes, headers);
- if the first request dies (worker killed, connection lost, database restart), its
  transaction rolls back, the claim vanishes with it, and the retry simply runs: nothing ever
  blocks on a dead request;
- a first request that runs longer than `lock_timeout` makes the duplicate's wait time out:
  409 `idempotency_key_in_progress` (retry in a moment).

The same key with a different request is a 422. 4xx answers are stored too (in a transaction of
their own, since the work was rolled back); 5xx and 429 are not, so a retry runs again. Keys are
kept at least 24 hours (`flask purge` deletes older ones). `shop/idempotency.py` applies this
policy to a route.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shop.models import IdempotencyKey
from shop.services.errors import IdempotencyKeyInProgress, IdempotencyKeyReused

KEEP_FOR = timedelta(hours=24)
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Claim:
    """Either the key is ours (`record_id`) or there is an answer to replay (`replay`)."""

    record_id: int | None = None
    replay: StoredResponse | None = None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Same request ⇔ same fingerprint: method, path and the JSON body with sorted keys."""
    try:
        canonical = (
            json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")) if body else ""
        )
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


# Built once, on the table rather than the ORM entity: one INSERT per request that carries a
# key, and one UPDATE storing its answer, without the ORM's bulk-persistence machinery (which
# cost more CPU than the statements themselves).
_KEYS = IdempotencyKey.__table__
_CLAIM = (
    insert(_KEYS)
    .values(created_at=func.now())
    .on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(_KEYS.c.id)
)
_COMPLETE = (
    update(_KEYS)
    .where(_KEYS.c.id == bindparam("record_id"))
    .values(
        response_status=bindparam("status"),
        response_body=bindparam("body"),
        response_headers=bindparam("headers"),
        completed_at=func.now(),
    )
)


def claim(session: Session, user_id: int, key: str, request_fingerprint: str) -> Claim:
    """Claim `key` in the current transaction, or return the stored answer to replay. Raises
    IdempotencyKeyReused (422) or IdempotencyKeyInProgress (409)."""
    params = {"user_id": user_id, "key": key, "request_fingerprint": request_fingerprint}
    try:
        record_id = session.execute(_CLAIM, params).scalar()
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise IdempotencyKeyInProgress() from error
    if record_id is not None:
        return Claim(record_id=record_id)
    existing = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    if existing.completed_at is None:
        # Only claims committed before answers were stored with them (older versions) can be
        # left without one; nothing runs for them any more, so this request takes over.
        existing.created_at = func.now()
        session.flush()
        return Claim(record_id=existing.id)
    return Claim(
        replay=StoredResponse(
            existing.response_status, existing.response_body, existing.response_headers or {}
        )
    )


def complete(session: Session, record_id: int, response: StoredResponse) -> None:
    """Store the answer with the claim, in the transaction that did the work."""
    session.execute(
        _COMPLETE,
        {
            "record_id": record_id,
            "status": response.status,
            "body": response.body,
            "headers": response.headers,
        },
    )


def store_refusal(
    session: Session, user_id: int, key: str, request_fingerprint: str, response: StoredResponse
) -> None:
    """After a refusal rolled the work (and the claim) back: store the 4xx answer under the key
    in a transaction of its own, so a retry gets the same refusal."""
    session.execute(
        insert(IdempotencyKey)
        .values(
            user_id=user_id,
            key=key,
            request_fingerprint=request_fingerprint,
            created_at=func.now(),
            response_status=response.status,
            response_body=response.body,
            response_headers=response.headers,
            completed_at=func.now(),
        )
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
    )


def purge(session: Session, now: datetime) -> int:
    """Delete keys older than 24 hours; returns how many."""
    result = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP_FOR)
    )
    return result.rowcount
