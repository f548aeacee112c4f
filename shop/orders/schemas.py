"""Order schemas: checkout body in; orders, their lines and tickets out."""

from marshmallow import fields, validate

from shop.models import OrderStatus, TicketStatus
from shop.schemas import (
    Amount,
    CamelCaseSchema,
    MoneySchema,
    PageMetaSchema,
    PageQuerySchema,
    ResponseSchema,
    Status,
)


class MoneyInSchema(CamelCaseSchema):
    amount = Amount(required=True, metadata={"example": "500.00"})
    currency = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Z]{3}$"), metadata={"example": "DKK"}
    )


class CheckoutSchema(CamelCaseSchema):
    # The total you showed the customer; a different current total is a 409 price_changed.
    # (No description here: it would turn the $ref into an allOf that fuzzers cannot follow.)
    expected_total = fields.Nested(MoneyInSchema)


class TicketSchema(ResponseSchema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "Print it or show it as a QR code at the door"})
    status = Status(
        TicketStatus,
        metadata={
            "description": "`used` once scanned, `void` once its order or event was cancelled"
        },
    )
    checked_in_at = fields.DateTime(allow_none=True)


class OrderItemSchema(ResponseSchema):
    id = fields.Integer()
    event_id = fields.Integer()
    ticket_type_id = fields.Integer()
    event_title = fields.String(metadata={"description": "As it was when bought"})
    event_starts_at = fields.DateTime()
    ticket_type_name = fields.String()
    unit_price = fields.Nested(MoneySchema)
    quantity = fields.Integer()
    line_total = fields.Nested(MoneySchema)


class OrderItemWithTicketsSchema(OrderItemSchema):
    tickets = fields.List(fields.Nested(TicketSchema))


class OrderSchema(ResponseSchema):
    id = fields.Integer()
    status = Status(OrderStatus)
    total = fields.Nested(MoneySchema)
    ticket_count = fields.Integer()
    created_at = fields.DateTime()
    confirmed_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
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
    starts_at = fields.DateTime()


class TicketTypeRefSchema(ResponseSchema):
    id = fields.Integer()
    name = fields.String()


class MyTicketSchema(TicketSchema):
    order_id = fields.Integer()
    event = fields.Nested(TicketEventSchema)
    ticket_type = fields.Nested(TicketTypeRefSchema)


class TicketPageSchema(ResponseSchema):
    data = fields.List(fields.Nested(MyTicketSchema))
    meta = fields.Nested(PageMetaSchema)


TicketQuerySchema = PageQuerySchema
