"""`@idempotent`: the `Idempotency-Key` policy (shop/idempotency_store.py) for any route.

A decorated view does its work without committing; the decorator owns the transaction:

    no key          run the view, commit.
    a new key       claim it, run the view, store its answer with the claim, commit (once).
    a known key     the same request: replay the stored status, body bytes and headers with
                    `Idempotent-Replayed: true`; a different request: 422.
    a refusal (4xx) roll the work back, store the refusal under the key, answer it.
    5xx, 429        roll back; nothing is stored, so a retry runs again.

Put it below `@jwt_required()` (keys are per user) and above the flask-smorest decorators
(so it sees the finished response).
"""

from __future__ import annotations

import functools
import re

from flask import Response, request
from flask_jwt_extended import current_user

from shop import idempotency_store
from shop.extensions import db
from shop.problems import problem_for, problem_row
from shop.services.errors import DomainError, ValidationFailed

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
# Headers that describe this particular transfer, not the answer: never stored or replayed.
NOT_STORED = {"content-length", "x-request-id", "date", "set-cookie"}
HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    "description": "Any unique string (a UUID): retrying with the same key and body never does"
    " the work twice, it replays the first answer (same status, body and headers, plus"
    " `Idempotent-Replayed: true`). Kept 24 hours, per user.",
}


def _stored(response: Response) -> idempotency_store.StoredResponse:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in NOT_STORED}
    return idempotency_store.StoredResponse(response.status_code, response.get_data(), headers)


def _replay(stored: idempotency_store.StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status, headers=stored.headers)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def keyed() -> bool:
    """Whether the request sent an Idempotency-Key (then @idempotent claims it in the view's
    transaction, before the view runs)."""
    return request.headers.get(HEADER) is not None


def commit_unless_keyed() -> None:
    """Commit the view's work now when the request sent no Idempotency-Key (then nothing else
    joins its transaction, and @idempotent's own commit finds nothing left to do). For a view
    whose locks should not wait for its answer to be serialized: checkout's tier locks are
    released before the order is written out as JSON. With a key the answer is stored in the
    same transaction, so @idempotent commits, once, after storing it."""
    if not keyed():
        db.session.commit()


def idempotent(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            response = view(*args, **kwargs)
            # (A view that committed already, as checkout does, left no transaction: a commit
            # would begin an empty one in the session only to end it, ~100 Python calls.)
            session = db.session()
            if session.in_transaction():
                session.commit()
            return response
        if not KEY_PATTERN.match(key):
            raise ValidationFailed(
                "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is ideal).",
                errors={HEADER: ["1 to 255 visible ASCII characters."]},
            )
        user_id = current_user.id
        fingerprint = idempotency_store.fingerprint(
            request.method, request.path, request.get_data()
        )
        claimed = idempotency_store.claim(db.session(), user_id, key, fingerprint)
        if isinstance(claimed, idempotency_store.StoredResponse):
            db.session.rollback()
            return _replay(claimed)
        try:
            response = view(*args, **kwargs)
        except DomainError as error:
            db.session.rollback()
            status = problem_row(type(error)).status
            if status >= 500 or status == 429:
                raise
            refusal = problem_for(error)
            idempotency_store.store_refusal(
                db.session(), user_id, key, fingerprint, _stored(refusal)
            )
            db.session.commit()
            return refusal
        except Exception:
            db.session.rollback()
            raise
        idempotency_store.complete(db.session(), claimed, _stored(response))
        db.session.commit()
        return response

    return wrapper
