"""Auth schemas: signup/login bodies in, user and tokens out."""

from marshmallow import Schema, fields, pre_load, validate

from shop.cart.schemas import CartSchema
from shop.models import Role
from shop.schemas import NOT_BLANK, ResponseSchema, Status
from shop.services.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class TrimmedEmailMixin:
    @pre_load
    def trim_email(self, data, **kwargs):
        # "  Ann@Example.com " is a typo, not a different address.
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip()}
        return data


class SignupSchema(TrimmedEmailMixin, Schema):
    email = fields.Email(
        required=True, validate=validate.Length(max=254), metadata={"example": "ann@example.com"}
    )
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
        metadata={
            "description": "8–128 characters, at least two kinds (lower, upper, digits,"
            " symbols), not the email",
            "example": "Correct-Horse-9",
        },
    )
    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=100), NOT_BLANK],
        metadata={"example": "Ann Jensen"},
    )


class LoginSchema(TrimmedEmailMixin, Schema):
    email = fields.String(
        required=True,
        validate=validate.Length(min=1, max=254),
        metadata={"example": "customer@example.com"},
    )
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=MAX_PASSWORD_LENGTH),
        metadata={"example": "Customer-Pass-2026"},
    )


class LogoutSchema(Schema):
    refresh_token = fields.String(
        data_key="refreshToken",
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "Also revoke this refresh token (recommended)"},
    )


class UserSchema(ResponseSchema):
    id = fields.Integer()
    email = fields.String(metadata={"example": "ann@example.com"})
    name = fields.String(metadata={"example": "Ann Jensen"})
    role = Status(Role)
    created_at = fields.DateTime(data_key="createdAt")


class SessionSchema(ResponseSchema):
    class Meta:
        optional = ("cart",)

    cart = fields.Nested(
        CartSchema,
        metadata={"description": "Only when a guest cart (X-Cart-Token) was merged at sign-in"},
    )
    user = fields.Nested(UserSchema)
    access_token = fields.String(
        data_key="accessToken",
        metadata={"description": "Short-lived; send as `Authorization: Bearer <accessToken>`"},
    )
    refresh_token = fields.String(
        data_key="refreshToken",
        metadata={"description": "Longer-lived; only for POST /api/auth/refresh"},
    )


class SessionEnvelopeSchema(ResponseSchema):
    data = fields.Nested(SessionSchema)


class UserEnvelopeSchema(ResponseSchema):
    data = fields.Nested(UserSchema)


class AccessTokenSchema(ResponseSchema):
    access_token = fields.String(data_key="accessToken")
    refresh_token = fields.String(
        data_key="refreshToken",
        metadata={
            "description": "The next refresh token: each one works once (use this one next time)"
        },
    )


class AccessTokenEnvelopeSchema(ResponseSchema):
    data = fields.Nested(AccessTokenSchema)
