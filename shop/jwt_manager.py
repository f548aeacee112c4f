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

import jwt
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.default_callbacks import default_decode_key_callback
from flask_jwt_extended.tokens import _decode_jwt
from jwt import ExpiredSignatureError


class SingleParseJWTManager(JWTManager):
    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value=None, allow_expired: bool = False
    ) -> dict:
        if self._decode_key_callback is not default_decode_key_callback:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        # The same arguments as the library's own version, with the configured key.
        kwargs = {
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
        try:
            return _decode_jwt(**kwargs, allow_expired=allow_expired)
        except ExpiredSignatureError as error:
            # What the library attaches for its expired-token loader.
            error.jwt_header = jwt.get_unverified_header(encoded_token)  # type: ignore[attr-defined]
            error.jwt_data = _decode_jwt(**kwargs, allow_expired=True)  # type: ignore[attr-defined]
            raise
