"""How flask-jwt-extended finds the user behind a token and refuses revoked tokens."""

from __future__ import annotations

from flask import g
from flask_jwt_extended import JWTManager

from shop.errors import register_jwt_error_handlers
from shop.extensions import db
from shop.models import User
from shop.services.accounts import user_and_revocation


def init_jwt(jwt: JWTManager) -> None:
    # flask-jwt-extended asks "is this token revoked?" first and "whose is it?" second; one
    # query answers both (the user is kept on `g` for the second question).
    @jwt.token_in_blocklist_loader
    def token_revoked(_header, payload) -> bool:
        user, revoked = user_and_revocation(db.session, int(payload["sub"]), payload["jti"])
        g.jwt_user = user
        return revoked

    @jwt.user_lookup_loader
    def load_user(_header, payload) -> User | None:
        user = g.pop("jwt_user", None)
        if user is not None and user.id == int(payload["sub"]):
            return user
        return db.session.get(User, int(payload["sub"]))

    register_jwt_error_handlers(jwt)
