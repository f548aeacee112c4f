"""The error handlers: every failure becomes a problem+json answer (`shop/problems.py`).

- domain errors (`shop/services/errors.py`): as the table `shop.problems.PROBLEMS` says;
- werkzeug, Flask and flask-smorest HTTP errors, webargs validation included;
- database failures: an unforeseen constraint (409), a value out of range (422), contention
  (503, retry) and an unreachable database (503);
- anything else: a 500 that says nothing about our internals.

Token failures are answered by flask-jwt-extended's loaders (`shop/auth/token_errors.py`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from shop.problems import HTTP_PROBLEMS, problem, problem_for
from shop.services.errors import DatabaseUnavailable, DomainError

log = logging.getLogger(__name__)


def _flatten_validation_messages(messages: Any) -> dict[str, Any]:
    """webargs nests messages by location ({"json": {...}, "query": {...}}); clients want fields."""
    if not isinstance(messages, dict):
        return {"_request": messages}
    flat: dict[str, Any] = {}
    for location, per_field in messages.items():
        if isinstance(per_field, dict):
            flat.update(per_field)
        else:
            flat[f"_{location}"] = per_field
    return flat


def _validation_detail(errors: dict[str, Any]) -> str:
    names = ", ".join(f"`{name}`" for name in errors if not name.startswith("_"))
    if names:
        return f"Invalid value for {names}. Fix what `errors` lists and try again."
    return "The request body is not valid. Fix what `errors` lists and try again."


def handle_http_exception(error: HTTPException) -> Response:
    """werkzeug, Flask and flask-smorest HTTP errors (including webargs validation) → problem."""
    status = error.code or 500
    code, detail = HTTP_PROBLEMS.get(status, ("http_error", error.description or "HTTP error."))
    headers: dict[str, str] = {}
    errors: dict[str, Any] | None = None
    data = getattr(error, "data", None) or {}
    if data.get("headers"):
        headers.update(data["headers"])
    if status in (400, 422) and "messages" in data:
        errors = _flatten_validation_messages(data["messages"])
        if status == 422:
            detail = _validation_detail(errors)
        elif errors.get("_json") or errors.get("_request"):
            detail = "The request body is not valid JSON. Fix the syntax and send it again."
    elif data.get("message"):
        detail = data["message"]
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if status == 429:
        headers.setdefault("Retry-After", str(_retry_after_seconds(error)))
        detail = (
            f"Too many requests ({error.description}). Wait the number of seconds in the"
            " Retry-After header, then try again."
        )
    if status >= 500:
        log.error("HTTP %s: %s", status, error)
    return problem(status, code, detail, errors=errors, headers=headers)


def _retry_after_seconds(error: HTTPException) -> int:
    from shop.extensions import limiter

    current = limiter.current_limit
    if current is not None:
        return max(1, int(current.reset_at - time.time()))
    return 60


def handle_domain_error(error: DomainError) -> Response:
    return problem_for(error)


def handle_integrity_error(error: IntegrityError) -> Response:
    # Services catch the integrity errors they expect and raise a clear domain error; reaching
    # this handler means a rule the database enforces was broken in a way we did not foresee.
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    log.warning("Unhandled integrity error on constraint %s", constraint)
    return problem(
        409,
        "constraint_violation",
        "The change breaks a rule of the data and was not saved. Check the values and try again.",
        errors={"constraint": constraint} if constraint else None,
    )


def describe_database_error(error: DBAPIError) -> str:
    """What a log may say about a database error: its class, SQLSTATE and the names of the
    constraint, table and column involved. Never the driver's message, which quotes values
    ("invalid input syntax for type integer: \"<what the client sent>\""), nor the statement's
    parameters (the engine hides those too: `hide_parameters`)."""
    orig = error.orig
    diag = getattr(orig, "diag", None)
    parts = [type(orig).__name__, f"SQLSTATE {getattr(orig, 'sqlstate', None) or '?'}"]
    for name in ("constraint_name", "table_name", "column_name"):
        value = getattr(diag, name, None)
        if value:
            parts.append(f"{name.removesuffix('_name')}={value}")
    return " ".join(parts)


# lock_timeout, deadlock and serialization failures: the same request will most likely succeed
# when retried a moment later.
RETRYABLE_SQLSTATES = {"55P03", "40P01", "40001"}


def handle_database_unavailable(error: DBAPIError) -> Response:
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    if sqlstate.startswith("22"):
        # Data exception (a value too long or out of range for its column): schemas should stop
        # these first; if one slips through, it is still the client's input, not our failure.
        log.warning("Data exception reached the database: %s", describe_database_error(error))
        return problem(
            422,
            "value_out_of_range",
            "A value is too long or out of range. Check the limits in the API documentation.",
        )
    if sqlstate in RETRYABLE_SQLSTATES:
        log.warning("Contention: %s", describe_database_error(error))
        return problem(
            503,
            "contention",
            "Many people are buying the same tickets right now. Retry in a moment.",
            headers={"Retry-After": "1"},
        )
    if isinstance(error, OperationalError) or error.connection_invalidated:
        log.error("Database unavailable: %s", describe_database_error(error))
        return problem_for(DatabaseUnavailable())
    log.exception("Database error", exc_info=error)
    return handle_unexpected(error)


def handle_unexpected(error: Exception) -> Response:
    log.exception("Unhandled exception", exc_info=error)
    code, detail = HTTP_PROBLEMS[500]
    return problem(500, code, detail)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(DBAPIError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
