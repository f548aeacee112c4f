"""Order schemas: checkout body in; orders, their lines and tickets out."""

from marshmallow import Schema, fields, validate

from shop.models import OrderStatus, TicketStatus
from shop.schemas import (
    Amount,
    MoneySchema,
    PageMetaSchema,
    PageQuerySchema,
    ResponseSchema,
    Status,
)


class MoneyInSchema(Schema):
    amount = Amount(required=True, metadata={"example": "500.00"})
    currency = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Z]{3}$"), metadata={"example": "DKK"}
    )


class CheckoutSchema(Schema):
    # The total you showed the customer; a different current total is a 409 price_changed.
    # (No description here: it would turn the $ref into an allOf that fuzzers cannot follow.)
    expected_total = fields.Nested(MoneyInSchema, data_key="expectedTotal")


class TicketSchema(ResponseSchema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "Print it or show it as a QR code at the door"})
    status = Status(
        TicketStatus,
        metadata={
            "description": "`used` once scanned, `void` once its order or event was cancelled"
        },
    )
    checked_in_at = fields.DateTime(data_key="checkedInAt", allow_none=True)


class OrderItemSchema(ResponseSchema):
    id = fields.Integer()
    event_id = fields.Integer(data_key="eventId")
    ticket_type_id = fields.Integer(data_key="ticketTypeId")
    event_title = fields.String(
        data_key="eventTitle", metadata={"description": "As it was when bought"}
    )
    event_starts_at = fields.DateTime(data_key="eventStartsAt")
    ticket_type_name = fields.String(data_key="ticketTypeName")
    unit_price = fields.Nested(MoneySchema, data_key="unitPrice")
    quantity = fields.Integer()
    line_total = fields.Nested(MoneySchema, data_key="lineTotal")


class OrderItemWithTicketsSchema(OrderItemSchema):
    tickets = fields.List(fields.Nested(TicketSchema))


class OrderSchema(ResponseSchema):
    id = fields.Integer()
    status = Status(OrderStatus)
    total = fields.Nested(MoneySchema)
    ticket_count = fields.Integer(data_key="ticketCount")
    created_at = fields.DateTime(data_key="createdAt")
    confirmed_at = fields.DateTime(data_key="confirmedAt", allow_none=True)
    cancelled_at = fields.DateTime(data_key="cancelledAt", allow_none=True)
    items = fields.List(fields.Nested(OrderItemSchema))


class OrderDetailSchema(OrderSchema):
    items = fields.List(fields.Nested(OrderItemWithTicketsSchema))


class OrderEnvelopeSchema(ResponseSchema):
    data = fields.Nested(OrderDetailSchema)


class OrderPageSchema(ResponseSchema):
    data = fields.List(fields.Nested(OrderSchema))
    meta = fields.Nested(PageMetaSchema)


class TicketEventSchema(ResponseSchema):
    id = fields.Integer()
    title = fields.String()
    starts_at = fields.DateTime(data_key="startsAt")


class TicketTypeRefSchema(ResponseSchema):
    id = fields.Integer()
    name = fields.String()


class MyTicketSchema(TicketSchema):
    order_id = fields.Integer(data_key="orderId")
    event = fields.Nested(TicketEventSchema)
    ticket_type = fields.Nested(TicketTypeRefSchema, data_key="ticketType")


class TicketPageSchema(ResponseSchema):
    data = fields.List(fields.Nested(MyTicketSchema))
    meta = fields.Nested(PageMetaSchema)


TicketQuerySchema = PageQuerySchema
