"""The failures the application raises on purpose: one exception class per kind of failure.

Services raise them; so do a few helpers of the HTTP layer (`MalformedJson` from the JSON
reader, `Forbidden` from the admin guard, `CartMerged` from the cart routes, `DatabaseUnavailable`
from the health check), so that every failure goes through the same table.

An error says what went wrong in the shop's own terms: a `message` for people, `errors` per
field or cart line (snake_case names, as the services call them), and typed data (`available`,
`limit`, `voided_at`, ...). It knows nothing about HTTP: `shop/problems.py` holds the one table
that gives each class its status, problem code and title, adds the next step a client can take
(the route to call, the header to drop) and turns the data into extension members and headers.

A new error: add a class here, then its row in `shop.problems.PROBLEMS` (a test fails until
every class has one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol


class MoneyValue(Protocol):
    """An amount in a currency (`shop.services.checkout.Money` is one)."""

    @property
    def amount(self) -> Decimal: ...

    @property
    def currency(self) -> str: ...


class DomainError(Exception):
    """Base of every error the application raises on purpose."""

    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(self, message: str | None = None, *, errors: Mapping[str, Any] | None = None):
        self.message = message or self.default_message
        # Per field or cart line, what is wrong with it: {"quantity": ["At most 4 per order."]}.
        self.errors = dict(errors) if errors else None
        super().__init__(self.message)


class MalformedJson(DomainError):
    default_message = "The request body is not valid JSON. Fix the syntax and send it again."


class NotFound(DomainError):
    default_message = "There is nothing at this address."


class Conflict(DomainError):
    default_message = (
        "The request conflicts with the current state of the resource. Fetch it again, then retry."
    )


class ValidationFailed(DomainError):
    default_message = "Some fields are invalid. Fix the fields listed in `errors` and try again."


class Unauthorized(DomainError):
    default_message = "You are not signed in."


class Forbidden(DomainError):
    default_message = "Your account is not allowed to do this. Sign in with an account that is."


class InvalidCredentials(Unauthorized):
    default_message = "The email or password is wrong. Check both and try again."


class RefreshTokenReused(Unauthorized):
    default_message = (
        "This refresh token was already used once, so a copy of it may be in someone else's"
        " hands: this sign-in session has been ended everywhere. Sign in again."
    )


class RefreshTokenUnknown(Unauthorized):
    default_message = "This refresh token was not issued by this server. Sign in again."


class EmailTaken(Conflict):
    default_message = "An account with this email exists. Sign in instead, or use another email."


class CartNotFound(NotFound):
    default_message = "You have no open cart."


class GuestCartNotFound(CartNotFound):
    default_message = (
        "This cart token belongs to no open cart (it was merged at sign-in, checked out or never"
        " existed)."
    )


class CartItemNotFound(NotFound):
    default_message = "Your cart has no line with this id."


class TicketTypeNotFound(NotFound):
    pass


class EventNotFound(NotFound):
    pass


class NotOnSale(Conflict):
    """`event_id`: the event whose sales window the client may look up (None when there is
    nothing to look up: the event is cancelled, or several events are concerned)."""

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: Mapping[str, Any] | None = None,
        event_id: int | None = None,
    ):
        super().__init__(message, errors=errors)
        self.event_id = event_id


class InsufficientAvailability(Conflict):
    """`available`: seats left of the one tier asked for (None when several lines are short:
    `errors` lists each)."""

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: Mapping[str, Any] | None = None,
        available: int | None = None,
    ):
        super().__init__(message, errors=errors)
        self.available = available


class QuantityOverLimit(ValidationFailed):
    pass


class CurrencyMismatch(Conflict):
    pass


class CartEmpty(ValidationFailed):
    default_message = "Your cart has no tickets."


class PriceChanged(Conflict):
    def __init__(
        self, message: str, *, expected_total: MoneyValue, current_total: MoneyValue
    ) -> None:
        super().__init__(message)
        self.expected_total = expected_total
        self.current_total = current_total


class _LimitReached(Conflict):
    """`limit`: the limit that was reached."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class AddressHoldLimit(_LimitReached):
    pass


class CartLineLimit(_LimitReached):
    pass


class CustomerLimitExceeded(Conflict):
    pass


class CartMerged(Conflict):
    default_message = "The guest cart sent along was merged into your cart, so your cart changed."


class OrderNotFound(NotFound):
    default_message = "You have no order with this id."


class OrderNotCancellable(Conflict):
    pass


class IdempotencyKeyReused(ValidationFailed):
    default_message = (
        "This Idempotency-Key was used for a different request. Use a new key for a new request;"
        " resend exactly the same request to get the first answer again."
    )


class _RetryLater(DomainError):
    """`retry_after_seconds`: when trying again makes sense."""

    retry_after_seconds: ClassVar[int]


class IdempotencyKeyInProgress(_RetryLater, Conflict):
    default_message = (
        "A request with this Idempotency-Key is still being processed. Retry in a moment to get"
        " its answer."
    )
    retry_after_seconds = 1


class CheckoutContention(_RetryLater):
    """The cart changed again and again while a checkout read it, or the seats it found short
    under the lock came back meanwhile: the same checkout will most likely work in a moment."""

    default_message = (
        "Your cart or its tickets changed while you were checking out. Retry in a moment."
    )
    retry_after_seconds = 1


class InUse(Conflict):
    pass


class HasSales(Conflict):
    pass


class CapacityBelowSold(Conflict):
    pass


class CapacityBelowHeld(Conflict):
    """Seats `sold` plus `held` in live holds (which lapse by `holds_lapse_by`) need at least
    `minimum_capacity`."""

    def __init__(
        self,
        message: str,
        *,
        errors: Mapping[str, Any] | None = None,
        sold: int,
        held: int,
        minimum_capacity: int,
        holds_lapse_by: datetime,
    ) -> None:
        super().__init__(message, errors=errors)
        self.sold = sold
        self.held = held
        self.minimum_capacity = minimum_capacity
        self.holds_lapse_by = holds_lapse_by


class AlreadyExists(Conflict):
    pass


class InvalidTransition(Conflict):
    pass


class TicketNotFound(NotFound):
    default_message = (
        "No ticket has this code. Check the code (32 letters and digits) and scan again."
    )


class TicketVoid(Conflict):
    def __init__(self, message: str, *, voided_at: datetime | None) -> None:
        super().__init__(message)
        self.voided_at = voided_at


class TicketAlreadyUsed(Conflict):
    def __init__(self, message: str, *, first_checked_in_at: datetime) -> None:
        super().__init__(message)
        self.first_checked_in_at = first_checked_in_at


class PasswordHashingBusy(_RetryLater):
    default_message = (
        "Many sign-ins are being checked right now. Retry in a second; nothing was changed."
    )
    retry_after_seconds = 1


class DatabaseUnavailable(_RetryLater):
    default_message = "The service cannot reach its database right now. Retry in a few seconds."
    retry_after_seconds = 5
