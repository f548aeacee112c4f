"""Token failures as 401 problems. flask-jwt-extended answers `{"msg": ...}` (and 422 for a
malformed token) by itself; these loaders make every token failure a 401 problem+json that says
what is wrong and what to do. Installed by `shop.auth.tokens.init_jwt`."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_jwt_extended import JWTManager

from shop.problems import problem

TOKEN_HELP = "Sign in again (POST /api/auth/login) or refresh (POST /api/auth/refresh)."


def _token_problem(code: str, detail: str) -> Response:
    return problem(401, code, detail, headers={"WWW-Authenticate": "Bearer"})


def register_jwt_error_handlers(jwt: JWTManager) -> None:
    """flask-jwt-extended answers `{"msg": ...}` (and 422 for a malformed token); make every token
    failure a 401 problem that says what is wrong and what to do."""

    @jwt.unauthorized_loader
    def missing_token(reason: str) -> Response:
        return _token_problem(
            "token_missing",
            "This route needs you signed in: send `Authorization: Bearer <accessToken>`"
            f" ({reason}).",
        )

    @jwt.invalid_token_loader
    def invalid_token(reason: str) -> Response:
        if "refresh" in reason.lower():
            if reason.lower().startswith("only refresh"):
                # On POST /api/auth/refresh itself, "refresh" is no advice.
                detail = (
                    "This route takes your refresh token, and you sent an access token. Send the"
                    " `refreshToken` from sign-in as `Authorization: Bearer <refreshToken>`, or"
                    " sign in again (POST /api/auth/login) if you no longer have it."
                )
            else:
                detail = (
                    "This route takes an access token, and you sent a refresh token. Send the"
                    " `accessToken` as `Authorization: Bearer <accessToken>`; get a new one from"
                    " POST /api/auth/refresh with your refresh token."
                )
            return _token_problem("wrong_token_type", detail)
        return _token_problem("token_invalid", f"The token is not valid ({reason}). {TOKEN_HELP}")

    @jwt.expired_token_loader
    def expired_token(_header: dict[str, Any], payload: dict[str, Any]) -> Response:
        kind = "refresh" if payload.get("type") == "refresh" else "access"
        help_text = (
            "Sign in again (POST /api/auth/login)."
            if kind == "refresh"
            else "Get a new one from POST /api/auth/refresh with your refresh token."
        )
        return _token_problem("token_expired", f"Your {kind} token has expired. {help_text}")

    @jwt.revoked_token_loader
    def revoked_token(_header: dict[str, Any], payload: dict[str, Any]) -> Response:
        if not isinstance(payload.get("jti"), str):
            return _token_problem(
                "token_invalid", f"The token has no id (jti) and cannot be accepted. {TOKEN_HELP}"
            )
        return _token_problem(
            "token_revoked",
            "This token was revoked (you signed out, or a refresh token was used twice)."
            " Sign in again.",
        )

    @jwt.user_lookup_error_loader
    def unknown_user(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _token_problem(
            "token_invalid", "The token names no existing account. Sign in again."
        )
