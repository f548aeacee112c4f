"""How flask-jwt-extended finds the user behind a token and refuses revoked tokens."""

from __future__ import annotations

import re

from flask import g
from flask_jwt_extended import JWTManager

from shop.auth.token_errors import register_jwt_error_handlers
from shop.extensions import db
from shop.services.accounts import (
    SignedInUser,
    is_revoked,
    signed_in_user,
    user_and_revocation,
)

# A user id as our tokens carry it: a positive integer that fits PostgreSQL's `integer`.
USER_ID = re.compile(r"[1-9][0-9]{0,9}")


def user_id_of(payload: dict) -> int | None:
    """The user id a token names, or None when `sub` is not one of our ids (a forged or foreign
    token signed with our key must be a 401, not a 500)."""
    subject = payload.get("sub")
    if isinstance(subject, str) and USER_ID.fullmatch(subject) and int(subject) <= 2**31 - 1:
        return int(subject)
    return None


def init_jwt(jwt: JWTManager) -> None:
    # flask-jwt-extended asks "is this token revoked?" first and "whose is it?" second; one
    # query answers both (the user is kept on `g` for the second question).
    @jwt.token_in_blocklist_loader
    def token_revoked(_header, payload) -> bool:
        # A token without an id (jti) could never be revoked, so it is never accepted.
        if not isinstance(payload.get("jti"), str):
            return True
        user_id = user_id_of(payload)
        if user_id is None:
            return is_revoked(db.session(), payload)
        user, revoked = user_and_revocation(db.session(), user_id, payload)
        g.jwt_user = user
        return revoked

    @jwt.user_lookup_loader
    def load_user(_header, payload) -> SignedInUser | None:
        user_id = user_id_of(payload)
        if user_id is None:
            return None
        user = g.pop("jwt_user", None)
        if user is not None and user.id == user_id:
            return user
        return signed_in_user(db.session(), user_id)

    register_jwt_error_handlers(jwt)
