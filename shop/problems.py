"""What every failure looks like on the wire: RFC 9457 problem details (`application/problem+json`).

    {"type": "urn:shop:problem:cart_empty", "title": "Cart is empty", "status": 422,
     "detail": "a sentence saying what went wrong and what to do", "code": "cart_empty",
     "errors": {...}}

- `PROBLEMS`: the one table from each domain error (`shop/services/errors.py`) to its status,
  code and title, the next step a client can take, and the data it sends along (extension
  members, `Retry-After`). `problem_for(error)` applies it.
- `HTTP_PROBLEMS`: code and sentence for the HTTP errors the framework raises itself.
- The registry of one title per code, and `ProblemSchema`, the body as the OpenAPI document
  shows it. `shop/errors.py` installs the handlers that answer with these.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from flask import Response, current_app, json
from marshmallow import INCLUDE, fields, validate

from shop.schemas import CamelCaseSchema, MoneySchema
from shop.services import errors as domain
from shop.services.errors import DomainError

PROBLEM_MIMETYPE = "application/problem+json"

# RFC 9457: a problem type's `title` does not change from occurrence to occurrence. Every code
# therefore has exactly one title, registered here: the rows of PROBLEMS register theirs, the
# codes answered without a domain error are listed below the table. `problem()` always takes the
# title from here.
PROBLEM_TITLES: dict[str, str] = {}
# The same codes, sorted: the `enum` of Problem.code in the OpenAPI document. It is filled when
# this module is imported, before the document is built.
PROBLEM_CODES: list[str] = []


def register_problem(code: str, title: str) -> None:
    """Record `code`'s one title; a second, different title for the same code is a bug."""
    known = PROBLEM_TITLES.setdefault(code, title)
    if known != title:
        raise ValueError(f"Problem code {code!r} has two titles: {known!r} and {title!r}")
    if code not in PROBLEM_CODES:
        bisect.insort(PROBLEM_CODES, code)


def _no_headers(_error: Any) -> dict[str, str]:
    return {}


def _bearer(_error: Any) -> dict[str, str]:
    return {"WWW-Authenticate": "Bearer"}


def _retry_after(error: Any) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after_seconds)}


@dataclass(frozen=True)
class Problem:
    """How one domain error class is answered."""

    status: int
    code: str
    title: str
    # Appended to the error's message: what to do next, in HTTP terms (a route, a header).
    next_step: str | Callable[[Any], str] = ""
    # Attributes of the error sent as extension members (camelCase), when not None.
    members: tuple[str, ...] = ()
    headers: Callable[[Any], dict[str, str]] = _no_headers

    def __post_init__(self) -> None:
        register_problem(self.code, self.title)

    def detail(self, error: DomainError) -> str:
        step = self.next_step(error) if callable(self.next_step) else self.next_step
        return f"{error.message} {step}" if step else error.message


def _sales_window(error: domain.NotOnSale) -> str:
    if error.event_id is None:
        return ""
    return f"GET /api/events/{error.event_id} shows its sales window."


_SIGN_IN = "Sign in and send the access token as `Authorization: Bearer <token>`."

# The one table: every class of shop/services/errors.py, and how it is answered.
PROBLEMS: dict[type[DomainError], Problem] = {
    DomainError: Problem(400, "bad_request", "Bad request"),
    domain.MalformedJson: Problem(400, "bad_request", "Bad request"),
    domain.NotFound: Problem(404, "not_found", "Not found", "Check the id in the URL."),
    domain.Conflict: Problem(409, "conflict", "Conflict"),
    domain.ValidationFailed: Problem(422, "validation_failed", "Validation failed"),
    domain.Unauthorized: Problem(401, "unauthorized", "Unauthorized", _SIGN_IN, headers=_bearer),
    domain.Forbidden: Problem(403, "forbidden", "Forbidden"),
    domain.InvalidCredentials: Problem(
        401, "invalid_credentials", "Invalid credentials", headers=_bearer
    ),
    domain.RefreshTokenReused: Problem(401, "token_revoked", "Token revoked", headers=_bearer),
    domain.RefreshTokenUnknown: Problem(401, "token_invalid", "Invalid token", headers=_bearer),
    domain.EmailTaken: Problem(409, "email_taken", "Email already registered"),
    domain.CartNotFound: Problem(
        404,
        "cart_not_found",
        "Cart not found",
        "Add an item to start one; a guest cart token (X-Cart-Token) stops working once the cart"
        " is merged at sign-in or checked out.",
    ),
    domain.GuestCartNotFound: Problem(
        404,
        "cart_not_found",
        "Cart not found",
        "Drop the X-Cart-Token header to start a new cart.",
    ),
    domain.CartItemNotFound: Problem(
        404,
        "cart_item_not_found",
        "Cart line not found",
        "GET /api/cart lists your lines and their ids.",
    ),
    domain.TicketTypeNotFound: Problem(
        404,
        "ticket_type_not_found",
        "Ticket type not found",
        "GET /api/events/{eventId} lists them.",
    ),
    domain.EventNotFound: Problem(
        404, "event_not_found", "Event not found", "GET /api/events lists them."
    ),
    domain.NotOnSale: Problem(409, "not_on_sale", "Not on sale", _sales_window),
    domain.InsufficientAvailability: Problem(
        409, "insufficient_availability", "Not enough tickets left", members=("available",)
    ),
    domain.QuantityOverLimit: Problem(422, "quantity_over_limit", "Too many tickets for one order"),
    domain.CurrencyMismatch: Problem(409, "currency_mismatch", "Different currency"),
    domain.CartEmpty: Problem(
        422,
        "cart_empty",
        "Cart is empty",
        "Add some with POST /api/cart/items, then check out.",
    ),
    domain.PriceChanged: Problem(
        409, "price_changed", "Prices changed", members=("expected_total", "current_total")
    ),
    domain.AddressHoldLimit: Problem(
        409, "address_hold_limit", "Too many seats held from one address", members=("limit",)
    ),
    domain.CartLineLimit: Problem(
        409, "cart_line_limit", "Cart line limit reached", members=("limit",)
    ),
    domain.CustomerLimitExceeded: Problem(
        409, "customer_limit_exceeded", "Over the per-customer limit"
    ),
    domain.CartMerged: Problem(
        409,
        "cart_merged",
        "Guest cart merged into yours",
        "Review it with GET /api/cart, then check out again.",
    ),
    domain.OrderNotFound: Problem(
        404, "order_not_found", "Order not found", "GET /api/orders lists yours."
    ),
    domain.OrderNotCancellable: Problem(409, "order_not_cancellable", "Order cannot be cancelled"),
    domain.IdempotencyKeyReused: Problem(422, "idempotency_key_reused", "Idempotency key reused"),
    domain.IdempotencyKeyInProgress: Problem(
        409, "idempotency_key_in_progress", "Request still running", headers=_retry_after
    ),
    domain.CheckoutContention: Problem(503, "contention", "Busy, retry", headers=_retry_after),
    domain.InUse: Problem(409, "in_use", "Still in use"),
    domain.HasSales: Problem(409, "has_sales", "Has sales"),
    domain.CapacityBelowSold: Problem(409, "capacity_below_sold", "Capacity below tickets sold"),
    domain.CapacityBelowHeld: Problem(
        409,
        "capacity_below_held",
        "Capacity below tickets sold and held",
        members=("sold", "held", "minimum_capacity", "holds_lapse_by"),
    ),
    domain.AlreadyExists: Problem(409, "already_exists", "Already exists"),
    domain.InvalidTransition: Problem(
        409, "invalid_status_change", "Status cannot change this way"
    ),
    domain.TicketNotFound: Problem(404, "ticket_not_found", "Ticket not found"),
    domain.TicketVoid: Problem(409, "ticket_void", "Ticket is void", members=("voided_at",)),
    domain.TicketAlreadyUsed: Problem(
        409, "ticket_already_used", "Ticket already used", members=("first_checked_in_at",)
    ),
    domain.PasswordHashingBusy: Problem(
        503, "sign_in_busy", "Too many sign-ins at once", headers=_retry_after
    ),
    domain.DatabaseUnavailable: Problem(
        503, "database_unavailable", "Database unavailable", headers=_retry_after
    ),
}

# The codes answered without a domain error: the framework's HTTP errors, token failures
# (shop/auth/token_errors.py) and database failures (shop/errors.py).
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
    "service_unavailable": "Service unavailable",
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


# Codes and what-to-do sentences for the HTTP errors the framework raises itself.
HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is malformed. Send a valid JSON body."),
    401: ("unauthorized", _SIGN_IN),
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


class ProblemSchema(CamelCaseSchema):
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
    expected_total = fields.Nested(MoneySchema, metadata={"description": "price_changed: yours"})
    current_total = fields.Nested(MoneySchema, metadata={"description": "price_changed: now"})
    first_checked_in_at = fields.DateTime(
        metadata={"description": "ticket_already_used: first scan"}
    )
    voided_at = fields.DateTime(metadata={"description": "ticket_void: when"})


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


def problem_row(error_class: type[DomainError]) -> Problem:
    """The row of PROBLEMS that answers `error_class` (its own, or its nearest base's)."""
    for cls in error_class.__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    raise LookupError(error_class)  # unreachable: DomainError has a row


def problem_for(error: DomainError) -> Response:
    """The problem+json answer to a domain error, as its row of PROBLEMS says."""
    row = problem_row(type(error))
    members = {
        _camel(name): _wire(value)
        for name in row.members
        if (value := getattr(error, name, None)) is not None
    }
    return problem(
        row.status,
        row.code,
        row.detail(error),
        errors=_wire(error.errors),
        headers=row.headers(error),
        **members,
    )


def _camel(name: str) -> str:
    """`ticket_type_id` -> `ticketTypeId`, the wire's spelling (a leading `_` stays)."""
    return re.sub(r"(?<=[a-z0-9])_([a-z])", lambda match: match.group(1).upper(), name)


def _wire(value: Any) -> Any:
    """A domain error's data as JSON: camelCase keys, ISO 8601 times, amounts as strings."""
    if isinstance(value, dict):
        return {_camel(key): _wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _wire(dataclasses.asdict(value))
    return value
