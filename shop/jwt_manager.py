"""flask-jwt-extended's JWTManager, verifying a token with one parse instead of three.

For every authenticated request flask-jwt-extended 4.7 (`JWTManager._decode_jwt_from_config`)
parses the token three times before the route runs: once unverified for its claims, once for its
header (both only to ask a `decode_key_loader` which key to use), then verified. Then it parses
the header a fourth time. PyJWT checks every character of every segment in Python on each parse,
so the unverified passes cost ~40 µs of CPU per request here (`python bench/checkout_latency.py`
profiled), spent on every checkout and every sold-out 409 of an on-sale rush.

We register no `decode_key_loader`: every token is verified with the one configured key, so the
unverified passes have nothing to decide. This manager then verifies directly, through the
library's own `_decode_jwt` (the same claim checks, the same errors), and keeps the library's
path whenever a key loader is registered. An expired token still carries its header and claims
to the expired-token loader (which says "refresh" or "sign in" from the token's type): they are
parsed on that (rare) path only. flask-jwt-extended is pinned (requirements.txt), and
tests/test_auth.py checks both the parse count and every token failure's answer.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

import flask_jwt_extended
import jwt
from flask import current_app, g, request
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.default_callbacks import (
    default_decode_key_callback,
    default_token_verification_callback,
)
from flask_jwt_extended.tokens import _decode_jwt
from jwt import ExpiredSignatureError, PyJWTError


class SingleParseJWTManager(JWTManager):
    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value=None, allow_expired: bool = False
    ) -> dict:
        if self._decode_key_callback is not default_decode_key_callback:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        kwargs = self._decode_arguments(encoded_token, csrf_value)
        try:
            return _decode_jwt(**kwargs, allow_expired=allow_expired)
        except ExpiredSignatureError as error:
            # What the library attaches for its expired-token loader.
            error.jwt_header = jwt.get_unverified_header(encoded_token)  # type: ignore[attr-defined]
            error.jwt_data = _decode_jwt(**kwargs, allow_expired=True)  # type: ignore[attr-defined]
            raise

    @staticmethod
    def _decode_arguments(encoded_token: str, csrf_value: str | None) -> dict[str, Any]:
        """The same arguments as the library's own `_decode_jwt_from_config`, with the
        configured key."""
        return {
            "algorithms": config.decode_algorithms,
            "audience": config.decode_audience,
            "csrf_value": csrf_value,
            "encoded_token": encoded_token,
            "identity_claim_key": config.identity_claim_key,
            "issuer": config.decode_issuer,
            "leeway": config.leeway,
            "secret": config.decode_key,
            "verify_aud": config.decode_audience is not None,
            "verify_sub": config.verify_sub,
        }

    def verified_in_one_pass(self, refresh: bool) -> tuple[dict, dict] | None:
        """The request's token verified as `verify_jwt_in_request` would verify it, in one pass,
        or None when the library's own path must answer (see `verify_jwt_in_request` below).

        The same checks in the same order: PyJWT's decoding with the arguments `_decode_jwt`
        passes (`jwt.decode_complete` is `jwt.decode` returning the header too: the signature,
        the algorithm, `exp`, `nbf`, `iat`, the claims' types), the identity claim, the token
        type, then our revocation callback (the token's user and its revocation, one statement),
        then our user loader. What it leaves out is what this app does not use: tokens outside
        the `Authorization` header, a header of several fields, a key loader, a custom claims
        check, fresh tokens; and the second parse of the token's header (PyJWT returns it with
        the claims). Anything unusual or failing returns None, so every refusal is the
        library's, with its own message and status."""
        if (
            self._decode_key_callback is not default_decode_key_callback
            or self._token_verification_callback is not default_token_verification_callback
            or request.method in config.exempt_methods
            or tuple(config.token_location) != ("headers",)
        ):
            return None
        field = request.headers.get(config.header_name)
        prefix = f"{config.header_type} "
        if not field or not field.startswith(prefix) or "," in field:
            return None
        parts = field.split()
        if len(parts) != 2:
            return None
        encoded_token = parts[1]
        kwargs = self._decode_arguments(encoded_token, None)
        options = {"verify_aud": kwargs["verify_aud"], "verify_sub": kwargs["verify_sub"]}
        try:
            # What `_decode_jwt` runs (jwt.decode), returning the header as well.
            decoded = jwt.decode_complete(
                encoded_token,
                kwargs["secret"],
                algorithms=kwargs["algorithms"],
                audience=kwargs["audience"],
                issuer=kwargs["issuer"],
                leeway=kwargs["leeway"],
                options=options,  # type: ignore[arg-type]
            )
        except PyJWTError:
            return None
        header, payload = decoded["header"], decoded["payload"]
        if config.identity_claim_key not in payload:
            return None
        # The defaults `_decode_jwt` fills in.
        payload.setdefault("type", "access")
        payload.setdefault("fresh", False)
        payload.setdefault("jti", None)
        if (payload["type"] == "refresh") != refresh:
            return None
        if self._token_in_blocklist_callback(header, payload):
            return None
        user = self._user_lookup_callback(header, payload) if self._user_lookup_callback else None
        if user is None:
            return None
        # Where `verify_jwt_in_request` keeps them for `current_user`, `get_jwt()` and the rest.
        g._jwt_extended_jwt_user = {"loaded_user": user}
        g._jwt_extended_jwt_header = header
        g._jwt_extended_jwt = payload
        g._jwt_extended_jwt_location = "headers"
        return header, payload


def verify_jwt_in_request(
    optional: bool = False, refresh: bool = False
) -> tuple[dict, dict] | None:
    """flask-jwt-extended's `verify_jwt_in_request` (the same answer for every request), in one
    pass for a valid token sent as this app's clients send it (`Authorization: Bearer <token>`).

    The library's function, per request, finds the token by splitting the header with a regular
    expression, decodes it (`decode_token`), parses its header again, then looks up the manager
    and calls each check and callback through it: ~40 µs of CPU on top of PyJWT's own work and
    the token's statement, on every authenticated request. `verified_in_one_pass` does the
    same checks, in the same order, on the same decoding. Whenever it cannot vouch for the
    token (none sent, another header form, any failure: expired, revoked, wrong type, unknown
    user, tampered), the library's function runs and answers (or raises) as it always did;
    tests/test_auth.py holds the two paths to the same answers."""
    manager = current_app.extensions["flask-jwt-extended"]
    if isinstance(manager, SingleParseJWTManager):
        verified = manager.verified_in_one_pass(refresh)
        if verified is not None:
            return verified
    return flask_jwt_extended.verify_jwt_in_request(optional=optional, refresh=refresh)


def jwt_required(refresh: bool = False):
    """flask-jwt-extended's `@jwt_required()`, verifying through `verify_jwt_in_request` above."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            verify_jwt_in_request(refresh=refresh)
            return current_app.ensure_sync(view)(*args, **kwargs)

        return wrapper

    return decorator
