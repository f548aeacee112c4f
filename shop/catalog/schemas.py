"""Catalogue schemas: query arguments in, events/categories/venues out (camelCase on the wire)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

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
