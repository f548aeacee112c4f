"""Admin schemas: what admins send (create/update) and see (with sales figures)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing, validate, validates_schema

from shop.catalog.schemas import CategorySchema, VenueSchema
from shop.models import Event, EventStatus, TicketStatus
from shop.schemas import (
    ID_RANGE,
    NOT_BLANK,
    Amount,
    DateOrDateTime,
    MoneySchema,
    PageMetaSchema,
    PageQuerySchema,
    ResponseSchema,
    Status,
    WholeNumber,
    require_order,
)

# A list of validators, not validate.And: the OpenAPI document shows each one (maxLength,
# pattern), so clients and fuzzers know the rules.
NAME = [validate.Length(min=1, max=100), NOT_BLANK]


class CategoryCreateSchema(Schema):
    slug = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=60),
            validate.Regexp(
                r"^[a-z0-9]+(-[a-z0-9]+)*$", error="Lower-case words joined by hyphens."
            ),
        ],
        metadata={"example": "stand-up"},
    )
    name = fields.String(required=True, validate=NAME, metadata={"example": "Stand-up"})


class VenueCreateSchema(Schema):
    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=200), NOT_BLANK],
    )
    address = fields.String(required=True, validate=validate.Length(min=1, max=300))
    city = fields.String(required=True, validate=NAME, metadata={"example": "Copenhagen"})


class EventCreateSchema(Schema):
    title = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=200), NOT_BLANK],
    )
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    starts_at = fields.AwareDateTime(data_key="startsAt", required=True)
    ends_at = fields.AwareDateTime(data_key="endsAt", required=True)
    venue_id = WholeNumber(data_key="venueId", required=True, validate=ID_RANGE)
    category_id = WholeNumber(data_key="categoryId", required=True, validate=ID_RANGE)
    image_url = fields.Url(
        data_key="imageUrl",
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=500),
        # "url" is marshmallow's name, not a JSON Schema format; http(s) URLs only.
        metadata={"format": "uri", "pattern": "^https?://"},
    )

    @validates_schema
    def ends_after_starts(self, data, **kwargs):
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("Must be after startsAt.", "endsAt")


class TicketTypeCreateSchema(Schema):
    name = fields.String(required=True, validate=NAME, metadata={"example": "Standard"})
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    price = Amount(
        required=True, metadata={"description": "In the event's currency", "example": "250.00"}
    )
    capacity = WholeNumber(required=True, validate=validate.Range(min=1, max=1_000_000))
    sales_start = fields.AwareDateTime(data_key="salesStart", allow_none=True, load_default=None)
    sales_end = fields.AwareDateTime(data_key="salesEnd", allow_none=True, load_default=None)
    max_per_order = WholeNumber(
        data_key="maxPerOrder",
        load_default=10,
        validate=validate.Range(min=1, max=100),
    )
    max_per_customer = fields.Integer(
        data_key="maxPerCustomer",
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1, max=1000),
        metadata={
            "description": "Anti-scalping: at most this many tickets of this type per customer"
            " across their confirmed orders, checked at checkout; null (default): no limit"
            " beyond maxPerOrder"
        },
    )

    @validates_schema
    def window_in_order(self, data, **kwargs):
        if (
            data.get("sales_start")
            and data.get("sales_end")
            and data["sales_end"] <= data["sales_start"]
        ):
            raise ValidationError("Must be after salesStart.", "salesEnd")


class PatchMixin:
    """PATCH bodies: the create schema's fields, all optional and without defaults (a field left
    out stays as it is; used as `XUpdateSchema(partial=True)`). Without this, the document would
    show the create defaults (`description: ""`), and a generated client would send them."""

    def on_bind_field(self, field_name, field_obj):
        super().on_bind_field(field_name, field_obj)
        field_obj.load_default = missing


class CategoryUpdateSchema(PatchMixin, CategoryCreateSchema):
    pass


class VenueUpdateSchema(PatchMixin, VenueCreateSchema):
    pass


class EventUpdateSchema(PatchMixin, EventCreateSchema):
    pass


class TicketTypeUpdateSchema(PatchMixin, TicketTypeCreateSchema):
    pass


class AdminTicketTypeSchema(ResponseSchema):
    id = fields.Integer()
    event_id = fields.Integer(data_key="eventId")
    name = fields.String()
    description = fields.String()
    # Built by price_money(); documented as the Money it is.
    price = fields.Method(
        "price_money", metadata={"allOf": [{"$ref": "#/components/schemas/Money"}]}
    )
    capacity = fields.Integer()
    sold = fields.Integer()
    sales_start = fields.DateTime(data_key="salesStart", allow_none=True)
    sales_end = fields.DateTime(data_key="salesEnd", allow_none=True)
    max_per_order = fields.Integer(data_key="maxPerOrder")
    max_per_customer = fields.Integer(data_key="maxPerCustomer", allow_none=True)

    def price_money(self, tier):
        return {"amount": f"{tier.price:.2f}", "currency": tier.currency}


class AdminEventSchema(ResponseSchema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    starts_at = fields.DateTime(data_key="startsAt")
    ends_at = fields.DateTime(data_key="endsAt")
    venue_id = fields.Integer(data_key="venueId")
    category_id = fields.Integer(data_key="categoryId")
    image_url = fields.String(data_key="imageUrl", allow_none=True)
    status = Status(EventStatus)
    currency = fields.String()
    created_at = fields.DateTime(data_key="createdAt")
    updated_at = fields.DateTime(data_key="updatedAt")
    ticket_types = fields.List(fields.Nested(AdminTicketTypeSchema), data_key="ticketTypes")


class CancellationSchema(ResponseSchema):
    tickets_voided = fields.Integer(data_key="ticketsVoided")
    orders_cancelled = fields.Integer(data_key="ordersCancelled")


@dataclass(frozen=True)
class EventCancelled:
    """An event just cancelled, and what cancelling it did (`cancel_event`'s counts)."""

    event: Event
    cancellation: Mapping[str, int]


class AdminEventCancelledSchema(AdminEventSchema):
    """The event as AdminEventSchema shows it, plus `cancellation`. Dumps an EventCancelled."""

    cancellation = fields.Nested(CancellationSchema)

    def get_attribute(self, obj: EventCancelled, attr: str, default: Any) -> Any:
        if attr == "cancellation":
            return obj.cancellation
        return super().get_attribute(obj.event, attr, default)


class AdminEventQuerySchema(PageQuerySchema):
    # A query parameter's schema is inlined, so not a named enum schema (Status) here.
    status = fields.Enum(EventStatus, by_value=fields.String)


def envelope(schema, name: str):
    return type(name, (ResponseSchema,), {"data": fields.Nested(schema)})


def page_envelope(schema, name: str):
    return type(
        name,
        (ResponseSchema,),
        {"data": fields.List(fields.Nested(schema)), "meta": fields.Nested(PageMetaSchema)},
    )


CategoryEnvelopeSchema = envelope(CategorySchema, "AdminCategoryEnvelope")
VenueEnvelopeSchema = envelope(VenueSchema, "AdminVenueEnvelope")
AdminEventEnvelopeSchema = envelope(AdminEventSchema, "AdminEventEnvelope")
AdminEventCancelledEnvelopeSchema = envelope(
    AdminEventCancelledSchema, "AdminEventCancelledEnvelope"
)
AdminEventPageSchema = page_envelope(AdminEventSchema, "AdminEventPage")
AdminTicketTypeEnvelopeSchema = envelope(AdminTicketTypeSchema, "AdminTicketTypeEnvelope")


# --- reports -----------------------------------------------------------------------------------


class SalesQuerySchema(PageQuerySchema):
    starts_from = DateOrDateTime(
        data_key="from", metadata={"description": "Events starting on or after"}
    )
    starts_to = DateOrDateTime(
        data_key="to", end_of_day=True, metadata={"description": "Events starting on or before"}
    )

    @validates_schema
    def range_in_order(self, data, **kwargs):
        require_order(data, "starts_from", "starts_to", "from", "to")


class SalesFiguresSchema(ResponseSchema):
    capacity = fields.Integer()
    sold = fields.Integer()
    held = fields.Integer(metadata={"description": "Seats in carts with a live hold"})
    remaining = fields.Integer()
    revenue = fields.Nested(MoneySchema, metadata={"description": "Confirmed orders"})
    sell_through = fields.Float(data_key="sellThrough", metadata={"description": "sold / capacity"})
    orders = fields.Integer()


class TicketTypeSalesSchema(SalesFiguresSchema):
    ticket_type_id = fields.Integer(data_key="ticketTypeId")
    name = fields.String()


class EventSalesSchema(SalesFiguresSchema):
    event_id = fields.Integer(data_key="eventId")
    title = fields.String()
    starts_at = fields.DateTime(data_key="startsAt")
    status = Status(EventStatus)
    ticket_types = fields.List(fields.Nested(TicketTypeSalesSchema), data_key="ticketTypes")


SalesPageSchema = page_envelope(EventSalesSchema, "SalesReportPage")


class OverviewTotalsSchema(ResponseSchema):
    orders = fields.Integer()
    cancelled_orders = fields.Integer(data_key="cancelledOrders")
    tickets = fields.Integer()
    revenue = fields.Nested(MoneySchema)
    upcoming_events = fields.Integer(data_key="upcomingEvents")
    customers = fields.Integer()


class TopEventSchema(ResponseSchema):
    event_id = fields.Integer(data_key="eventId")
    title = fields.String()
    revenue = fields.Nested(MoneySchema)
    tickets = fields.Integer()
    orders = fields.Integer()


class DaySalesSchema(ResponseSchema):
    day = fields.Date()
    orders = fields.Integer()
    tickets = fields.Integer()
    revenue = fields.Nested(MoneySchema)


class OverviewSchema(ResponseSchema):
    totals = fields.Nested(OverviewTotalsSchema)
    top_events = fields.List(fields.Nested(TopEventSchema), data_key="topEvents")
    sales_per_day = fields.List(fields.Nested(DaySalesSchema), data_key="salesPerDay")


OverviewEnvelopeSchema = envelope(OverviewSchema, "OverviewEnvelope")


class CheckInSchema(ResponseSchema):
    ticket_id = fields.Integer(data_key="ticketId")
    code = fields.String()
    status = Status(TicketStatus)
    checked_in_at = fields.DateTime(data_key="checkedInAt")
    event_id = fields.Integer(data_key="eventId")
    event_title = fields.String(data_key="eventTitle")
    ticket_type_name = fields.String(data_key="ticketTypeName")
    order_id = fields.Integer(data_key="orderId")


CheckInEnvelopeSchema = envelope(CheckInSchema, "CheckInEnvelope")
