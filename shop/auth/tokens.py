"""How flask-jwt-extended finds the user behind a token and refuses revoked tokens."""

from __future__ import annotations

from flask_jwt_extended import JWTManager

from shop.errors import register_jwt_error_handlers
from shop.extensions import db
from shop.models import User
from shop.services.accounts import is_revoked


def init_jwt(jwt: JWTManager) -> None:
    @jwt.user_lookup_loader
    def load_user(_header, payload) -> User | None:
        return db.session.get(User, int(payload["sub"]))

    @jwt.token_in_blocklist_loader
    def token_revoked(_header, payload) -> bool:
        return is_revoked(db.session, payload["jti"])

    register_jwt_error_handlers(jwt)
