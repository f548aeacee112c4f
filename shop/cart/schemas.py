"""Cart schemas: line changes in, the cart with its warnings out."""

from marshmallow import ValidationError, fields, validate, validates_schema

from shop.schemas import ID_RANGE, CamelCaseSchema, MoneySchema, ResponseSchema, WholeNumber
from shop.services.carts import MAX_LINE_QUANTITY

QUANTITY = validate.Range(
    min=1, max=MAX_LINE_QUANTITY, error="Must be a whole number from 1 to {max}."
)


class CartItemCreateSchema(CamelCaseSchema):
    """Which tickets to add: `ticketTypeId`, or `eventId` alone when the event has one tier on
    sale (as course clients send it), and how many."""

    event_id = WholeNumber(validate=ID_RANGE, metadata={"example": 4})
    ticket_type_id = WholeNumber(
        validate=ID_RANGE,
        metadata={"example": 8},
    )
    quantity = WholeNumber(required=True, validate=QUANTITY, metadata={"example": 2})

    @validates_schema
    def needs_a_target(self, data, **kwargs):
        if data.get("event_id") is None and data.get("ticket_type_id") is None:
            raise ValidationError(
                "Send ticketTypeId (or eventId for an event with one ticket type).", "ticketTypeId"
            )


class CartItemUpdateSchema(CamelCaseSchema):
    quantity = WholeNumber(
        required=True,
        validate=QUANTITY,
        metadata={
            "description": "The line's new quantity (to remove the line, DELETE it)",
            "example": 3,
        },
    )


class CartEventSchema(ResponseSchema):
    id = fields.Integer()
    title = fields.String()
    starts_at = fields.DateTime()


class CartItemSchema(ResponseSchema):
    id = fields.Integer(
        metadata={"description": "The cart line's id (use it in /api/cart/items/{itemId})"}
    )
    event_id = fields.Integer()
    ticket_type_id = fields.Integer()
    ticket_type_name = fields.String()
    event = fields.Nested(CartEventSchema)
    quantity = fields.Integer()
    unit_price = fields.Nested(MoneySchema, metadata={"description": "Current price"})
    line_total = fields.Nested(MoneySchema)
    available = fields.Integer(
        metadata={"description": "Most this line could hold now (seats not held by others)"}
    )


CART_WARNING_CODES = [
    "quantity_capped",
    "price_changed",
    "hold_expired",
    "hold_not_renewed",
    "hold_limit_reached",
    "cart_line_limit",
    "not_on_sale",
    "sold_out",
    "insufficient_availability",
    "currency_mismatch",
]


class CartWarningSchema(ResponseSchema):
    """Something about the cart that changed or needs you, without failing the request.
    `itemId` names the line when it is about one; the other members come with some codes."""

    class Meta:
        optional = ("item_id", "requested", "kept", "old_price", "new_price")

    code = fields.String(metadata={"enum": CART_WARNING_CODES, "x-enum-name": "CartWarningCode"})
    detail = fields.String(metadata={"description": "What happened and what you can do"})
    item_id = fields.Integer()
    requested = fields.Integer()
    kept = fields.Integer()
    old_price = fields.Nested(MoneySchema)
    new_price = fields.Nested(MoneySchema)


class CartSchema(ResponseSchema):
    id = fields.Integer(
        allow_none=True, metadata={"description": "null until the first item is added"}
    )
    cart_token = fields.String(
        allow_none=True,
        metadata={"description": "Guest carts only: send it back as the X-Cart-Token header"},
    )
    items = fields.List(fields.Nested(CartItemSchema))
    total_quantity = fields.Integer()
    subtotal = fields.Nested(MoneySchema, metadata={"description": "0.00 when the cart is empty"})
    hold_expires_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "Seats are held until then"},
    )
    warnings = fields.List(fields.Nested(CartWarningSchema))
    updated_at = fields.DateTime(allow_none=True)


class CartEnvelopeSchema(ResponseSchema):
    data = fields.Nested(CartSchema)
