"""One error shape for everything: RFC 9457 problem details (`application/problem+json`).

Services raise the domain errors defined here (`SoldOut`, `CartEmpty`, ...).
`register_error_handlers` turns those, flask-smorest/webargs validation errors, werkzeug's
HTTP errors, flask-jwt-extended's token errors and database failures into the same body:

    {"type": "urn:shop:problem:sold_out", "title": "Sold out", "status": 409,
     "detail": "a sentence saying what went wrong and what to do", "code": "sold_out",
     "errors": {...}}
"""

from __future__ import annotations

import bisect
import logging
import time
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, json
from marshmallow import INCLUDE, Schema, fields, validate
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from shop.schemas import MoneySchema

PROBLEM_MIMETYPE = "application/problem+json"

log = logging.getLogger(__name__)

# RFC 9457: a problem type's `title` does not change from occurrence to occurrence. Every code
# therefore has exactly one title, registered here: domain errors register theirs when their class
# is defined (`ShopError.__init_subclass__`), the codes answered without a class are listed below
# the classes. `problem()` always takes the title from here.
PROBLEM_TITLES: dict[str, str] = {}
# The same codes, sorted: the `enum` of Problem.code in the OpenAPI document. It is filled as the
# error classes are defined, before the document is built.
PROBLEM_CODES: list[str] = []


def register_problem(code: str, title: str) -> None:
    """Record `code`'s one title; a second, different title for the same code is a bug."""
    known = PROBLEM_TITLES.setdefault(code, title)
    if known != title:
        raise ValueError(f"Problem code {code!r} has two titles: {known!r} and {title!r}")
    if code not in PROBLEM_CODES:
        bisect.insort(PROBLEM_CODES, code)


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error response of this API is shaped. `code` is the
    stable word to switch on (each code has one constant `title`); `detail` says what went wrong
    in this request and what to do next. Some problems carry extension members (RFC 9457 section
    3.2), documented below; clients must ignore members they do not know."""

    class Meta:
        unknown = INCLUDE  # documented as open: extension members are allowed

    type = fields.String(
        required=True,
        metadata={
            "description": "URI naming the kind of problem: `urn:shop:problem:<code>`",
            "example": "urn:shop:problem:validation_failed",
        },
    )
    title = fields.String(
        required=True,
        metadata={
            "description": "Short summary of the kind of problem; the same for every occurrence"
            " of a `code`",
            "example": "Validation failed",
        },
    )
    status = fields.Integer(
        required=True,
        validate=validate.Range(min=400, max=599),
        metadata={"description": "HTTP status code", "example": 422},
    )
    detail = fields.String(
        required=True,
        metadata={
            "description": "What went wrong in this request, and what to do about it",
            "example": "Invalid value for `quantity`. Fix what `errors` lists and try again.",
        },
    )
    code = fields.String(
        required=True,
        metadata={
            "description": "Stable machine-readable code",
            "enum": PROBLEM_CODES,
            "x-enum-name": "ProblemCode",
            "example": "validation_failed",
        },
    )
    errors = fields.Dict(
        metadata={
            "description": "Details per field, parameter or cart line, when there are any",
            "example": {"quantity": ["Must be a whole number from 1 to 100."]},
        }
    )
    available = fields.Integer(metadata={"description": "insufficient_availability: seats left"})
    limit = fields.Integer(
        metadata={"description": "address_hold_limit, cart_line_limit: the limit that was reached"}
    )
    expected_total = fields.Nested(
        MoneySchema, data_key="expectedTotal", metadata={"description": "price_changed: yours"}
    )
    current_total = fields.Nested(
        MoneySchema, data_key="currentTotal", metadata={"description": "price_changed: now"}
    )
    first_checked_in_at = fields.DateTime(
        data_key="firstCheckedInAt", metadata={"description": "ticket_already_used: first scan"}
    )
    voided_at = fields.DateTime(data_key="voidedAt", metadata={"description": "ticket_void: when"})


class ShopError(Exception):
    """Base of every error the application raises on purpose. Subclasses set the defaults."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    detail: str = "The request could not be processed."

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_problem(cls.code, cls.title)

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class MalformedJson(ShopError):
    status, code, title = 400, "bad_request", "Bad request"
    detail = "The request body is not valid JSON. Fix the syntax and send it again."


class NotFound(ShopError):
    status, code, title = 404, "not_found", "Not found"
    detail = "There is nothing at this address. Check the id in the URL."


class Conflict(ShopError):
    status, code, title = 409, "conflict", "Conflict"
    detail = (
        "The request conflicts with the current state of the resource. Fetch it again, then retry."
    )


class ValidationFailed(ShopError):
    status, code, title = 422, "validation_failed", "Validation failed"
    detail = "Some fields are invalid. Fix the fields listed in `errors` and try again."


class Unauthorized(ShopError):
    status, code, title = 401, "unauthorized", "Unauthorized"
    detail = "Sign in and send the access token as `Authorization: Bearer <token>`."
    headers_default = {"WWW-Authenticate": "Bearer"}


class Forbidden(ShopError):
    status, code, title = 403, "forbidden", "Forbidden"
    detail = "Your account is not allowed to do this. Sign in with an account that is."


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Invalid credentials"
    detail = "The email or password is wrong. Check both and try again."


class RefreshTokenReused(Unauthorized):
    code, title = "token_revoked", "Token revoked"
    detail = (
        "This refresh token was already used once, so a copy of it may be in someone else's"
        " hands: this sign-in session has been ended everywhere. Sign in again."
    )


class RefreshTokenUnknown(Unauthorized):
    code, title = "token_invalid", "Invalid token"
    detail = "This refresh token was not issued by this server. Sign in again."


class EmailTaken(Conflict):
    code, title = "email_taken", "Email already registered"
    detail = "An account with this email exists. Sign in instead, or use another email."


class CartNotFound(NotFound):
    code, title = "cart_not_found", "Cart not found"
    detail = (
        "You have no open cart. Add an item to start one; a guest cart token (X-Cart-Token)"
        " stops working once the cart is merged at sign-in or checked out."
    )


class GuestCartNotFound(CartNotFound):
    detail = (
        "This cart token belongs to no open cart (it was merged at sign-in, checked out or never"
        " existed). Drop the X-Cart-Token header to start a new cart."
    )


class CartItemNotFound(NotFound):
    code, title = "cart_item_not_found", "Cart line not found"
    detail = "Your cart has no line with this id. GET /api/cart lists your lines and their ids."


class TicketTypeNotFound(NotFound):
    code, title = "ticket_type_not_found", "Ticket type not found"


class EventNotFound(NotFound):
    code, title = "event_not_found", "Event not found"


class NotOnSale(Conflict):
    code, title = "not_on_sale", "Not on sale"


class InsufficientAvailability(Conflict):
    code, title = "insufficient_availability", "Not enough tickets left"


class QuantityOverLimit(ValidationFailed):
    code, title = "quantity_over_limit", "Too many tickets for one order"


class CurrencyMismatch(Conflict):
    code, title = "currency_mismatch", "Different currency"


class CartEmpty(ValidationFailed):
    code, title = "cart_empty", "Cart is empty"
    detail = "Your cart has no tickets. Add some with POST /api/cart/items, then check out."


class PriceChanged(Conflict):
    code, title = "price_changed", "Prices changed"


class AddressHoldLimit(Conflict):
    code, title = "address_hold_limit", "Too many seats held from one address"


class CartLineLimit(Conflict):
    code, title = "cart_line_limit", "Cart line limit reached"


class CustomerLimitExceeded(Conflict):
    code, title = "customer_limit_exceeded", "Over the per-customer limit"


class CartMerged(Conflict):
    code, title = "cart_merged", "Guest cart merged into yours"
    detail = (
        "The guest cart sent as X-Cart-Token was merged into your cart, so your cart changed."
        " Review it with GET /api/cart, then check out again."
    )


class OrderNotFound(NotFound):
    code, title = "order_not_found", "Order not found"
    detail = "You have no order with this id. GET /api/orders lists yours."


class OrderNotCancellable(Conflict):
    code, title = "order_not_cancellable", "Order cannot be cancelled"


class IdempotencyKeyReused(ValidationFailed):
    code, title = "idempotency_key_reused", "Idempotency key reused"
    detail = (
        "This Idempotency-Key was used for a different request. Use a new key for a new request;"
        " resend exactly the same request to get the first answer again."
    )


class IdempotencyKeyInProgress(Conflict):
    code, title = "idempotency_key_in_progress", "Request still running"
    detail = (
        "A request with this Idempotency-Key is still being processed. Retry in a moment to get"
        " its answer."
    )


class InUse(Conflict):
    code, title = "in_use", "Still in use"


class HasSales(Conflict):
    code, title = "has_sales", "Has sales"


class CapacityBelowSold(Conflict):
    code, title = "capacity_below_sold", "Capacity below tickets sold"


class CapacityBelowHeld(Conflict):
    code, title = "capacity_below_held", "Capacity below tickets sold and held"


class AlreadyExists(Conflict):
    code, title = "already_exists", "Already exists"


class InvalidTransition(Conflict):
    code, title = "invalid_status_change", "Status cannot change this way"


class TicketNotFound(NotFound):
    code, title = "ticket_not_found", "Ticket not found"
    detail = "No ticket has this code. Check the code (32 letters and digits) and scan again."


class TicketVoid(Conflict):
    code, title = "ticket_void", "Ticket is void"


class TicketAlreadyUsed(Conflict):
    code, title = "ticket_already_used", "Ticket already used"


class ServiceUnavailable(ShopError):
    status, code, title = 503, "service_unavailable", "Service unavailable"
    detail = "The service cannot reach its database right now. Retry in a few seconds."


class PasswordHashingBusy(ShopError):
    status, code, title = 503, "sign_in_busy", "Too many sign-ins at once"
    detail = "Many sign-ins are being checked right now. Retry in a second; nothing was changed."
    headers_default = {"Retry-After": "1"}


class DatabaseUnavailable(ServiceUnavailable):
    code, title = "database_unavailable", "Database unavailable"
    detail = "The service cannot reach its database right now. Retry in a few seconds."
    headers_default = {"Retry-After": "5"}


register_problem(ShopError.code, ShopError.title)
# The codes answered without a domain error class: the framework's HTTP errors, token failures
# and database failures.
for _code, _title in {
    "method_not_allowed": "Method not allowed",
    "not_acceptable": "Not acceptable",
    "precondition_failed": "Precondition failed",
    "payload_too_large": "Request body too large",
    "unsupported_media_type": "Unsupported media type",
    "precondition_required": "Precondition required",
    "rate_limited": "Too many requests",
    "internal_error": "Internal error",
    "http_error": "HTTP error",
    "token_missing": "Not signed in",
    "token_invalid": "Invalid token",
    "token_expired": "Token expired",
    "token_revoked": "Token revoked",
    "wrong_token_type": "Wrong kind of token",
    "constraint_violation": "Data rule broken",
    "value_out_of_range": "Value out of range",
    "contention": "Busy, retry",
}.items():
    register_problem(_code, _title)


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    type_: str | None = None,
    errors: Any = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build a problem+json response. Everything that answers an error goes through here."""
    body: dict[str, Any] = {
        "type": type_ or f"urn:shop:problem:{code}",
        # The code's one registered title; `title` only names a code not registered (yet).
        "title": PROBLEM_TITLES.get(code) or title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# Codes and what-to-do sentences for the HTTP errors the framework raises itself.
HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is malformed. Send a valid JSON body."),
    401: ("unauthorized", "Sign in and send the access token as `Authorization: Bearer <token>`."),
    403: ("forbidden", "Your account is not allowed to do this. Sign in with an account that is."),
    404: ("not_found", "There is nothing at this address. Check the URL against /api/docs."),
    405: ("method_not_allowed", "This address does not accept that method; see the Allow header."),
    406: (
        "not_acceptable",
        "This resource cannot be sent in the format the Accept header asks for. Ask for"
        " application/json.",
    ),
    409: (
        "conflict",
        "The request conflicts with the current state of the resource. Fetch it again, then retry.",
    ),
    412: ("precondition_failed", "The resource changed since you read it. Fetch it again."),
    413: ("payload_too_large", "The request body is too large. Send at most 64 KiB."),
    415: ("unsupported_media_type", "Send the body as JSON with `Content-Type: application/json`."),
    422: ("validation_failed", "Some input is invalid. Fix what `errors` lists and try again."),
    428: ("precondition_required", "Send the precondition header this route asks for."),
    429: ("rate_limited", "Too many requests. Wait for the number of seconds in Retry-After."),
    500: (
        "internal_error",
        "Something went wrong on our side. Try again; if it keeps failing, report the request id.",
    ),
    503: ("service_unavailable", "The service is briefly unavailable. Retry in a few seconds."),
}


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


def handle_shop_error(error: ShopError) -> Response:
    headers = {**getattr(error, "headers_default", {}), **error.headers}
    return problem(
        error.status,
        error.code,
        error.detail,
        title=error.title,
        errors=error.errors,
        headers=headers,
        **error.extra,
    )


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
        return handle_shop_error(DatabaseUnavailable())
    log.exception("Database error", exc_info=error)
    return handle_unexpected(error)


def handle_unexpected(error: Exception) -> Response:
    log.exception("Unhandled exception", exc_info=error)
    code, detail = HTTP_PROBLEMS[500]
    return problem(500, code, detail)


TOKEN_HELP = "Sign in again (POST /api/auth/login) or refresh (POST /api/auth/refresh)."


def _token_problem(code: str, detail: str) -> Response:
    return problem(401, code, detail, headers={"WWW-Authenticate": "Bearer"})


def register_jwt_error_handlers(jwt) -> None:
    """flask-jwt-extended answers `{"msg": ...}` (and 422 for a malformed token); make every token
    failure a 401 problem that says what is wrong and what to do."""

    @jwt.unauthorized_loader
    def missing_token(reason: str):
        return _token_problem(
            "token_missing",
            "This route needs you signed in: send `Authorization: Bearer <accessToken>`"
            f" ({reason}).",
        )

    @jwt.invalid_token_loader
    def invalid_token(reason: str):
        if "refresh" in reason.lower():
            if reason.lower().startswith("only refresh"):
                # On POST /api/auth/refresh itself, "refresh" is no advice.
                detail = (
                    "This route takes your refresh token, and you sent an access token. Send the"
                    " `refreshToken` from sign-in as `Authorization: Bearer <refreshToken>`, or"
                    " sign in again (POST /api/auth/login) if you no longer have it."
                )
            else:
                detail = (
                    "This route takes an access token, and you sent a refresh token. Send the"
                    " `accessToken` as `Authorization: Bearer <accessToken>`; get a new one from"
                    " POST /api/auth/refresh with your refresh token."
                )
            return _token_problem("wrong_token_type", detail)
        return _token_problem("token_invalid", f"The token is not valid ({reason}). {TOKEN_HELP}")

    @jwt.expired_token_loader
    def expired_token(_header, payload):
        kind = "refresh" if payload.get("type") == "refresh" else "access"
        help_text = (
            "Sign in again (POST /api/auth/login)."
            if kind == "refresh"
            else "Get a new one from POST /api/auth/refresh with your refresh token."
        )
        return _token_problem("token_expired", f"Your {kind} token has expired. {help_text}")

    @jwt.revoked_token_loader
    def revoked_token(_header, payload):
        if not isinstance(payload.get("jti"), str):
            return _token_problem(
                "token_invalid", f"The token has no id (jti) and cannot be accepted. {TOKEN_HELP}"
            )
        return _token_problem(
            "token_revoked",
            "This token was revoked (you signed out, or a refresh token was used twice)."
            " Sign in again.",
        )

    @jwt.user_lookup_error_loader
    def unknown_user(_header, _payload):
        return _token_problem(
            "token_invalid", "The token names no existing account. Sign in again."
        )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ShopError, handle_shop_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(DBAPIError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
