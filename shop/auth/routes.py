"""Auth routes: accounts and JWTs (flask-jwt-extended).

The auth decorator sits on top of each method: a request is authenticated before its body or
query is even parsed, so anonymous callers learn nothing from validation errors.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_jwt_extended import current_user, decode_token, get_jwt
from jwt import PyJWTError

from shop.auth.schemas import (
    AccessTokenEnvelopeSchema,
    LoginSchema,
    LogoutSchema,
    SessionEnvelopeSchema,
    SignupSchema,
    UserEnvelopeSchema,
)
from shop.cart.presenter import cart_view
from shop.cart.routes import CART_TOKEN_HEADER, cart_token_parameter, hold_policy
from shop.extensions import db, limiter
from shop.jwt_manager import jwt_required
from shop.openapi import Blueprint, problem_response
from shop.ratelimit import failed_sign_in, login_account_key
from shop.services import accounts, carts
from shop.services.errors import (
    EmailTaken,
    InvalidCredentials,
    PasswordHashingBusy,
    RefreshTokenReused,
    ValidationFailed,
)

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Sign up, sign in, tokens")

BEARER: dict[str, Any] = {"security": [{"bearerAuth": []}]}
GUEST_CART_DOC = {
    "parameters": [
        cart_token_parameter(
            "A guest's cart token: that cart merges into the account's cart, which then comes"
            " back as `cart`."
        )
    ]
}

# Signup and login both hash a password under the same limits, so they document the same 429/503.
TOO_MANY_ATTEMPTS: dict[str, Any] = {
    "response": "TOO_MANY_REQUESTS",
    "description": "Too many attempts; see Retry-After",
}


def sign_in_busy_response() -> dict[str, Any]:
    """The 503 of a request that found every password-hashing slot busy (a fresh dict per use)."""
    return problem_response(
        503,
        "sign_in_busy",
        PasswordHashingBusy.default_message,
        "Every password-hashing slot is busy (PASSWORD_HASH_SLOTS); see Retry-After",
    )


def auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


def login_account_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN_ACCOUNT"]


def start_session(user, status: int):
    """Tokens for `user`; a guest cart sent along (X-Cart-Token) is merged into theirs and the
    merged cart, with any caps as warnings, comes back as `cart`."""
    guest_token = request.headers.get(CART_TOKEN_HEADER)
    merged = None
    if guest_token:
        merged = carts.merge_guest_cart(db.session(), user.id, guest_token, hold_policy())
    data = {"user": user, **accounts.issue_tokens(db.session(), user)}
    db.session.commit()
    if merged is not None:
        data["cart"] = cart_view(db.session(), merged)
    return {"data": data}, status


@blp.route("/signup")
class Signup(MethodView):
    decorators = [limiter.limit(auth_limit, methods=["POST"])]

    @blp.doc(**GUEST_CART_DOC)
    @blp.arguments(SignupSchema)
    @blp.response(201, SessionEnvelopeSchema)
    @blp.alt_response(
        409,
        **problem_response(
            409, "email_taken", EmailTaken.default_message, "The email is already registered"
        ),
    )
    @blp.alt_response(429, **TOO_MANY_ATTEMPTS)
    @blp.alt_response(503, **sign_in_busy_response())
    def post(self, body):
        """Create an account

        Password: 8 to 128 characters mixing at least two kinds (lower case, upper case,
        digits, symbols), not the email. Emails are trimmed and compared case-insensitively.
        Answers the new user with an access token and a refresh token, signed in. A guest cart
        sent as `X-Cart-Token` becomes the new account's cart.
        """
        user = accounts.register_user(db.session(), **body)
        return start_session(user, 201)


@blp.route("/login")
class Login(MethodView):
    decorators = [
        limiter.limit(auth_limit, methods=["POST"]),
        limiter.limit(
            login_account_limit,
            methods=["POST"],
            key_func=login_account_key,
            deduct_when=failed_sign_in,
            scope="login-account",
        ),
    ]

    @blp.doc(**GUEST_CART_DOC)
    @blp.arguments(LoginSchema)
    @blp.response(200, SessionEnvelopeSchema)
    @blp.alt_response(
        401,
        **problem_response(
            401,
            "invalid_credentials",
            InvalidCredentials.default_message,
            "Wrong email or password",
        ),
    )
    @blp.alt_response(429, **TOO_MANY_ATTEMPTS)
    @blp.alt_response(503, **sign_in_busy_response())
    def post(self, body):
        """Sign in

        Answers the user with a short-lived access token (send it as `Authorization: Bearer
        <accessToken>`) and a longer-lived refresh token. An unknown email and a wrong password
        get the same 401. A guest cart sent as `X-Cart-Token` is merged into your cart:
        quantities add up, capped by seats left and per-order limits (GET /api/cart shows the
        result), and the guest token stops working.
        """
        user = accounts.authenticate(db.session(), **body)
        return start_session(user, 200)


@blp.route("/me")
class Me(MethodView):
    @jwt_required()
    @blp.doc(**BEARER)
    @blp.response(200, UserEnvelopeSchema)
    @blp.alt_response(401, response="UNAUTHORIZED", description="Missing, expired or revoked token")
    def get(self):
        """Show the signed-in user

        Never includes the password hash.
        """
        return {"data": current_user}


@blp.route("/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.doc(**BEARER)
    @blp.response(200, AccessTokenEnvelopeSchema)
    @blp.alt_response(
        401, response="UNAUTHORIZED", description="Missing, expired, revoked or access token"
    )
    def post(self):
        """Get a new access token (and the next refresh token)

        Send the refresh token (not the access token) as `Authorization: Bearer
        <refreshToken>`. Refresh tokens rotate: each works once, and the answer carries the
        next one. Sending a used refresh token again ends the whole sign-in session (it was
        copied), and you must sign in again.
        """
        try:
            tokens = accounts.rotate_refresh_token(db.session(), current_user, get_jwt())
        except RefreshTokenReused:
            db.session.commit()  # the family stays revoked although this request fails
            raise
        db.session.commit()
        return {"data": tokens}


@blp.route("/logout")
class Logout(MethodView):
    @jwt_required()
    @blp.doc(**BEARER)
    @blp.arguments(LogoutSchema, required=False)
    @blp.response(204)
    @blp.alt_response(401, response="UNAUTHORIZED", description="Missing, expired or revoked token")
    def post(self, body):
        """Sign out

        The access token you send stops working at once, in every server, and so does every
        refresh token of this sign-in (with the access tokens issued from them). A
        `refreshToken` in the body is revoked too (it must be your own).
        """
        token = get_jwt()
        accounts.revoke_token(db.session(), token)
        if token.get("fam"):
            accounts.revoke_family(db.session(), token["fam"])
        refresh_token = (body or {}).get("refresh_token")
        if refresh_token:
            try:
                payload = decode_token(refresh_token, allow_expired=True)
            except PyJWTError as error:
                raise ValidationFailed(
                    "refreshToken is not a valid refresh token. Send the refreshToken you got at"
                    " sign-in, or leave it out.",
                    errors={"refreshToken": ["Not a valid refresh token."]},
                ) from error
            if payload.get("type") != "refresh" or payload.get("sub") != str(current_user.id):
                raise ValidationFailed(
                    "refreshToken must be your own refresh token. Send the refreshToken you got at"
                    " sign-in, or leave it out.",
                    errors={"refreshToken": ["Not your refresh token."]},
                )
            accounts.revoke_token(db.session(), payload)
            if payload.get("fam"):
                accounts.revoke_family(db.session(), payload["fam"])
        db.session.commit()
