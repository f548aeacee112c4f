"""Catalogue schemas: query arguments in, events/categories/venues out (camelCase on the wire)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from shop.models import EventStatus
from shop.schemas import (
    Amount,
    DateOrDateTime,
    MoneySchema,
    PageMetaSchema,
    PageQuerySchema,
    ResponseSchema,
    require_order,
)

MAX_QUERY_LENGTH = 200


# The `sort` parameter's values, and the catalogue's names for them (shop.services.catalog.SORTS).
SORT_PARAMETER = {
    "startsAt": "starts_at",
    "-startsAt": "-starts_at",
    "price": "price",
    "-price": "-price",
    "title": "title",
}


def only_validator(field: fields.Field, kind: type[validate.Validator]):
    """The field's one validator, of `kind` (anything else: CommonArguments cannot read it)."""
    if len(field.validators) != 1 or not isinstance(field.validators[0], kind):
        raise TypeError(f"{field}: CommonArguments reads one {kind.__name__} validator")
    return field.validators[0]


def wire_name(field: fields.Field, name: str) -> str:
    return field.data_key or name


class CommonArguments:
    """The listing's most common query arguments, checked without marshmallow's machinery.

    Fast path: marshmallow's load walks every field of the schema with its validators, hooks
    and error collection on every request: ~20 µs of CPU, most of what a listing's query
    arguments cost (webargs' whole parse: 32 µs before, 18 with this). Most listing requests
    send only `page`, `pageSize`, `q`, `category`, `city` and `sort`, whose checks are a
    length, a range or a choice: a few comparisons. `load` returns what the schema would for
    those, and None for anything else (another argument, an unknown one, or a value that is
    not plainly valid: `page=0`, `page=+2`, `sort=price2`), which marshmallow then loads as
    before. So every refusal and its message still come from the schema, and the limits are
    read from the schema's own fields (one source of truth). tests/test_catalog.py checks that
    both ways load the same."""

    STRINGS = ("q", "category", "city")  # checked by their length alone
    NUMBERS = ("page", "page_size")  # integers checked by their range alone

    def __init__(self, schema: Schema) -> None:
        fields_ = schema.fields
        # wire name -> (field name, shortest, longest) / (field name, lowest, highest)
        self.strings: dict[str, tuple[str, int, int]] = {}
        self.numbers: dict[str, tuple[str, int, int]] = {}
        for name in self.STRINGS:
            length = only_validator(fields_[name], validate.Length)
            if length.equal is not None or length.max is None:
                raise TypeError(f"{name}: CommonArguments reads a Length with a maximum")
            self.strings[wire_name(fields_[name], name)] = (name, length.min or 0, length.max)
        for name in self.NUMBERS:
            bounds = only_validator(fields_[name], validate.Range)
            if not (bounds.min_inclusive and bounds.max_inclusive):
                raise TypeError(f"{name}: CommonArguments reads a closed Range")
            if bounds.min is None or bounds.max is None:
                raise TypeError(f"{name}: CommonArguments reads a Range with both bounds")
            self.numbers[wire_name(fields_[name], name)] = (name, bounds.min, bounds.max)
        self.defaults = {name: fields_[name].load_default for name in self.NUMBERS}
        self.default_sort = fields_["sort"].load_default

    def load(self, data: dict) -> dict | None:
        """The loaded arguments (as `EventQuerySchema().load(data)`), or None: not common."""
        loaded = dict(self.defaults)
        sort = self.default_sort
        for parameter, value in data.items():
            if not isinstance(value, str):
                return None
            if parameter in self.strings:
                name, shortest, longest = self.strings[parameter]
                if not shortest <= len(value) <= longest:
                    return None
                loaded[name] = value
            elif parameter in self.numbers:
                # ASCII digits only: marshmallow's `int()` also reads " 2", "+2", "1_0" and
                # other scripts' digits; those are left to it.
                name, lowest, highest = self.numbers[parameter]
                if not (value.isascii() and value.isdigit() and len(value) <= 9):
                    return None
                number = int(value)
                if not lowest <= number <= highest:
                    return None
                loaded[name] = number
            elif parameter == "sort" and value in SORT_PARAMETER:
                sort = value
            else:
                return None
        loaded["sort"] = SORT_PARAMETER[sort]  # (the schema's post_load)
        return loaded


class EventQuerySchema(PageQuerySchema):
    """Filters, search and sort for the event listing."""

    # No `example`s on these: Swagger UI fills examples into "Try it out", and trying the listing
    # should start from every event, not from one search. Examples live in the descriptions.
    q = fields.String(
        validate=validate.Length(min=1, max=MAX_QUERY_LENGTH),
        metadata={
            "description": "Full-text search over title, description, venue, city and category;"
            " every word must match, words may be partial (`jazz cop`)."
        },
    )
    category = fields.String(
        validate=validate.Length(min=1, max=60),
        metadata={"description": "Category slug (`jazz`), from GET /api/categories"},
    )
    city = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Venue city, case-insensitive (`Copenhagen`)"},
    )
    starts_from = DateOrDateTime(
        data_key="from",
        metadata={
            "description": "Events starting at or after this date (`2026-12-01`, shop time,"
            " Europe/Copenhagen) or date-time with offset. Defaults to now: past events only"
            " appear when asked for."
        },
    )
    starts_to = DateOrDateTime(
        data_key="to",
        end_of_day=True,
        metadata={"description": "Events starting on or before this date (inclusive) or date-time"},
    )
    min_price = Amount(
        metadata={"description": "Cheapest ticket (priceFrom) at least this amount (`100`)"},
    )
    max_price = Amount(
        metadata={"description": "Cheapest ticket (priceFrom) at most this amount (`300.50`)"},
    )
    available = fields.Boolean(
        metadata={"description": "`true`: only events with seats left (false: no filter)"}
    )
    sort = fields.String(
        load_default="startsAt",
        validate=validate.OneOf(list(SORT_PARAMETER)),
        metadata={"description": "Sort order; ties are broken by id"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._common = CommonArguments(self)

    def load(self, data, *, many=None, partial=None, unknown=None):
        """marshmallow's load, with a fast path for what most listing requests send (see
        `CommonArguments.load`)."""
        if many is None and partial is None and isinstance(data, dict):
            loaded = self._common.load(data)
            if loaded is not None:
                return loaded
        return super().load(data, many=many, partial=partial, unknown=unknown)

    @post_load
    def catalogue_sort(self, data, **kwargs):
        data["sort"] = SORT_PARAMETER[data["sort"]]
        return data

    @validates_schema
    def check_ranges(self, data, **kwargs):
        errors = {}
        for low, high, low_name, high_name in (
            ("starts_from", "starts_to", "from", "to"),
            ("min_price", "max_price", "minPrice", "maxPrice"),
        ):
            try:
                require_order(data, low, high, low_name, high_name)
            except ValidationError as error:
                errors.update(error.normalized_messages())
        if errors:
            raise ValidationError(errors)


class VenueQuerySchema(PageQuerySchema):
    city = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Venues in this city only, case-insensitive (`Aarhus`)"},
    )


class VenueRefSchema(ResponseSchema):
    id = fields.Integer()
    name = fields.String(metadata={"example": "Jazzhouse"})
    city = fields.String(metadata={"example": "Copenhagen"})


class VenueSchema(VenueRefSchema):
    address = fields.String(metadata={"example": "Niels Hemmingsens Gade 10"})


class CategorySchema(ResponseSchema):
    id = fields.Integer()
    slug = fields.String(metadata={"example": "jazz"})
    name = fields.String(metadata={"example": "Jazz"})


class CategoryRefSchema(ResponseSchema):
    slug = fields.String(metadata={"example": "jazz"})
    name = fields.String(metadata={"example": "Jazz"})


class EventSchema(ResponseSchema):
    """An event as the listing shows it."""

    id = fields.Integer()
    title = fields.String(metadata={"example": "Late Night Jazz with Agnes Obel"})
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    venue = fields.Nested(VenueRefSchema)
    category = fields.Nested(CategoryRefSchema)
    image_url = fields.String(allow_none=True, metadata={"format": "uri"})
    price_from = fields.Nested(
        MoneySchema,
        allow_none=True,
        metadata={"description": "Cheapest tier; null while the event has no ticket types"},
    )
    tickets_available = fields.Integer(
        metadata={"description": "Seats left over all tiers (capacity - sold - others' holds)"},
    )
    sold_out = fields.Boolean()


class TicketTypeSchema(ResponseSchema):
    id = fields.Integer()
    name = fields.String(metadata={"example": "Standard"})
    description = fields.String()
    price = fields.Nested(MoneySchema)
    capacity = fields.Integer()
    available = fields.Integer(metadata={"description": "Seats you can still put in a cart"})
    sales_start = fields.DateTime(allow_none=True)
    sales_end = fields.DateTime(allow_none=True)
    on_sale = fields.Boolean(metadata={"description": "Inside its sales window, event not started"})
    max_per_order = fields.Integer()
    max_per_customer = fields.Integer(
        allow_none=True,
        metadata={
            "description": "At most this many per customer across all their orders (checked at"
            " checkout); null: no limit beyond maxPerOrder"
        },
    )


class EventDetailSchema(EventSchema):
    """An event with its description, status and ticket tiers."""

    description = fields.String()
    status = fields.String(
        metadata={
            "description": "Cancelled events stay visible to their ticket holders",
            "enum": [EventStatus.PUBLISHED.value, EventStatus.CANCELLED.value],
            "x-enum-name": "PublicEventStatus",
        }
    )
    venue = fields.Nested(VenueSchema)
    ticket_types = fields.List(fields.Nested(TicketTypeSchema))


class EventPageSchema(ResponseSchema):
    data = fields.List(fields.Nested(EventSchema))
    meta = fields.Nested(PageMetaSchema)


class EventEnvelopeSchema(ResponseSchema):
    data = fields.Nested(EventDetailSchema)


class CategoryPageSchema(ResponseSchema):
    data = fields.List(fields.Nested(CategorySchema))
    meta = fields.Nested(PageMetaSchema)


class VenuePageSchema(ResponseSchema):
    data = fields.List(fields.Nested(VenueSchema))
    meta = fields.Nested(PageMetaSchema)
