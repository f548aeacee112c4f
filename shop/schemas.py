"""Schemas shared by every resource: money, pagination query and metadata, envelopes."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import Schema, ValidationError, fields, validate

MAX_PAGE_SIZE = 100
SHOP_TIMEZONE = ZoneInfo("Europe/Copenhagen")


# Ids sent in bodies: positive and within PostgreSQL's `integer` (like the ids in URLs).
ID_RANGE = validate.Range(min=1, max=2_147_483_647)

# Names and titles must hold more than spaces. Written so that the pattern means the same in
# marshmallow (re.match, anchored at the start; Python's \s) and in the OpenAPI document (JSON
# Schema patterns search anywhere; JavaScript's \s): anchored explicitly, and with the blank
# characters spelled out, since the two languages disagree on what \s covers.
NOT_BLANK = validate.Regexp(r"^[ \t\n\r\f\v]*[^ \t\n\r\f\v]", error="Must not be blank.")

# The currency an empty cart reports (it has no lines to take one from).
DEFAULT_CURRENCY = "DKK"


class ResponseSchema(Schema):
    """Base of every schema the API answers with. Each of its fields is in every answer (null
    when it has no value), so the OpenAPI document lists them all as `required` and client
    generators type them as always present. The few fields that are sometimes left out are
    named in `Meta.optional`.

    (`required` means "always present" in a response; nothing ever loads these schemas.)"""

    class Meta:
        optional: tuple[str, ...] = ()

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        field_obj.required = field_name not in getattr(self.Meta, "optional", ())


class Status(fields.Enum):
    """One of a closed set of values (`shop/models/enums.py`), sent and read as its value. The
    OpenAPI document shows it as a named enum schema of the enum's name (`EventStatus`), shared
    by every schema that uses it. Dumps members and plain strings alike (rows read with SQL)."""

    def __init__(self, enum: type[StrEnum], **kwargs: Any) -> None:
        metadata = {"x-enum-name": enum.__name__, **kwargs.pop("metadata", {})}
        super().__init__(enum, by_value=fields.String, metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        member = None if value is None else self.enum(value)
        return super()._serialize(member, attr, obj, **kwargs)


class MoneySchema(ResponseSchema):
    """An exact amount: a decimal string with two places, and an ISO 4217 currency."""

    amount = fields.Decimal(
        as_string=True,
        places=2,
        metadata={"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "250.00"},
    )
    currency = fields.String(metadata={"pattern": "^[A-Z]{3}$", "example": "DKK"})


class Amount(fields.Decimal):
    """A money amount sent to the API: a decimal string with at most two decimals, from "0" to
    "99999999.99" (NUMERIC(10, 2)). Strings only, like the amounts the API sends: a float
    would already have lost the exact value."""

    PATTERN = r"^\d{1,8}(\.\d{1,2})?$"
    default_error_messages = {
        "amount": 'Use a decimal string with at most two decimals, e.g. "250.00".',
    }

    def __init__(self, **kwargs):
        metadata = {"type": "string", "pattern": self.PATTERN}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(places=2, as_string=True, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not re.match(self.PATTERN, value):
            raise self.make_error("amount")
        return super()._deserialize(value, attr, data, **kwargs)


class WholeNumber(fields.Integer):
    """A JSON integer: `2`, and `2.0`, which JSON (and JSON Schema's `integer`) counts as the
    same number. A string (`"2"`), a fraction (`2.5`) or a boolean is refused."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


def money(amount, currency: str) -> dict | None:
    return None if amount is None else {"amount": amount, "currency": currency}


class PageQuerySchema(Schema):
    """`page` (1-based) and `pageSize` (1–100). Out-of-range values are refused, not clamped."""

    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=1_000_000),
        metadata={"description": "1-based page number; a page past the end is empty"},
    )
    page_size = fields.Integer(
        data_key="pageSize",
        load_default=20,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"Items per page, 1 to {MAX_PAGE_SIZE}"},
    )


class PageMetaSchema(ResponseSchema):
    page = fields.Integer(metadata={"example": 1})
    page_size = fields.Integer(data_key="pageSize", metadata={"example": 20})
    total_items = fields.Integer(data_key="totalItems", metadata={"example": 57})
    total_pages = fields.Integer(data_key="totalPages", metadata={"example": 3})


class DateOrDateTime(fields.Field):
    """`2026-12-24` (a whole day in shop time, Europe/Copenhagen) or an ISO 8601 date-time with
    an offset (`2026-12-24T18:00:00+01:00`). Loads to an aware datetime; `end_of_day` makes a bare
    date mean the end of that day (for inclusive upper bounds)."""

    default_error_messages = {
        "invalid": "Use a date (2026-12-24) or a date-time with offset (2026-12-24T18:00+01:00).",
        "naive": "Add a UTC offset to the time (for example +01:00 or Z).",
    }

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        metadata = {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ]
        }
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                moment = time.max if self.end_of_day else time.min
                return datetime.combine(day, moment, tzinfo=SHOP_TIMEZONE)
            parsed = datetime.fromisoformat(value)
        except ValueError as error:
            raise self.make_error("invalid") from error
        if parsed.tzinfo is None:
            raise self.make_error("naive")
        return parsed


def require_order(data: dict, low: str, high: str, low_name: str, high_name: str) -> None:
    """Raise a ValidationError on `low_name` when both bounds are given and low > high."""
    if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
        raise ValidationError(f"`{low_name}` must not be after `{high_name}`.", low_name)
