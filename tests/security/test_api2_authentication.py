"""OWASP API2:2023 Broken Authentication: every protected operation refuses every kind of bad
token with a 401 problem (never a 422 or 500), before looking at the request body."""

import time
from datetime import timedelta

import jwt as pyjwt

from tests.security.helpers import assert_problem, fill, operations


def protected(client):
    for method, path, operation in operations(client):
        if {"bearerAuth": []} in operation.get("security", []) and {} not in operation.get(
            "security", []
        ):
            yield method, fill(path)


def bad_tokens(app, auth, user, sql):
    good = auth.token(user)
    header, payload, signature = good.split(".")
    revoked = auth.token(user)
    revoked_payload = pyjwt.decode(revoked, options={"verify_signature": False})
    sql(
        "INSERT INTO revoked_token (jti, token_type, user_id, expires_at)"
        " VALUES (:jti, 'access', :u, now() + interval '1 hour')",
        jti=revoked_payload["jti"],
        u=user.id,
    )
    claims = {
        "sub": str(user.id),
        "type": "access",
        "jti": "x",
        "fresh": False,
        "exp": int(time.time()) + 60,
    }
    return {
        "token_expired": auth.token(user, expires_delta=timedelta(seconds=-5)),
        "token_invalid": f"{header}.{payload}.{signature[::-1]}",
        "token_invalid ": pyjwt.encode(
            claims, "not-our-secret-but-long-enough-for-hs256!", algorithm="HS256"
        ),
        "token_invalid  ": pyjwt.encode(claims, None, algorithm="none"),
        "token_revoked": revoked,
        "wrong_token_type": auth.token(user, refresh=True),
    }


def test_every_protected_operation_refuses_bad_tokens(app, client, make, auth, sql):
    user = make.user(role="admin")
    tokens = bad_tokens(app, auth, user, sql)
    # /api/auth/refresh takes refresh tokens; tests/test_auth.py covers it on its own.
    routes = [route for route in protected(client) if route[1] != "/api/auth/refresh"]
    assert len(routes) >= 25
    for method, path in routes:
        assert_problem(getattr(client, method)(path, json={"x": 1}), 401, "token_missing")
        for label, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            response = getattr(client, method)(path, json={"x": 1}, headers=headers)
            body = assert_problem(response, 401, label.strip())
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert body["detail"]
