"""Accounts and tokens: signup, login, me, refresh, logout, and every way a token can be wrong."""

import time
from datetime import timedelta

import jwt as pyjwt
import pytest

from tests.factories import DEFAULT_PASSWORD
from tests.helpers import problem, rate_limited_client


def test_signup_creates_a_customer_and_signs_them_in(auth, client, sql):
    response = auth.signup(email="  Ann@Example.COM ", name="Ann")
    assert response.status_code == 201
    data = response.get_json()["data"]
    assert data["user"]["email"] == "ann@example.com"
    assert data["user"]["role"] == "customer"
    assert set(data["user"]) == {"id", "email", "name", "role", "createdAt"}
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {data['accessToken']}"})
    assert me.get_json()["data"]["id"] == data["user"]["id"]
    row = sql("SELECT password_hash FROM app_user WHERE email = 'ann@example.com'")[0]
    assert row["password_hash"].startswith("$argon2id$")
    assert "password" not in response.get_data(as_text=True).lower().replace("password_hash", "")


def test_duplicate_email_is_409_whatever_the_case(auth, sql):
    auth.signup(email="bo@example.com")
    body = problem(auth.signup(email="BO@example.com"), 409, "email_taken")
    assert "sign in" in body["detail"].lower()
    assert sql("SELECT count(*) AS n FROM app_user") == [{"n": 1}]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1A", "between 8 and 128"),
        ("alllowercase", "two kinds"),
        ("12345678", "two kinds"),
        ("x" * 129, "between 8 and 128"),
    ],
)
def test_weak_passwords_are_refused(auth, sql, password, reason):
    body = problem(auth.signup(password=password), 422, "validation_failed")
    assert reason in " ".join(body["errors"]["password"])
    assert sql("SELECT count(*) AS n FROM app_user") == [{"n": 0}]


def test_password_equal_to_email_is_refused(auth):
    body = problem(
        auth.signup(email="a1@example.com", password="A1@example.com"), 422, "validation_failed"
    )
    assert "email" in body["errors"]["password"][0]


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email", "password": "Correct-Horse-9", "name": "X"},
        {"email": "a@example.com", "password": "Correct-Horse-9"},
        {"email": "a@example.com", "password": "Correct-Horse-9", "name": "   "},
        {"email": "a@example.com", "password": "Correct-Horse-9", "name": "X", "role": "admin"},
    ],
)
def test_bad_signup_bodies_are_422_and_create_nothing(client, sql, payload):
    response = client.post("/api/auth/signup", json=payload)
    problem(response, 422, "validation_failed")
    assert sql("SELECT count(*) AS n FROM app_user") == [{"n": 0}]


def test_malformed_json_is_400(client):
    response = client.post("/api/auth/login", data="{not json", content_type="application/json")
    problem(response, 400, "bad_request")


def test_login_returns_user_and_both_tokens(auth, make, sql):
    user = make.user(email="cy@example.com")
    response = auth.login("CY@example.com ", DEFAULT_PASSWORD)
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["user"]["id"] == user.id
    assert data["accessToken"] and data["refreshToken"]
    assert sql("SELECT last_login_at IS NOT NULL AS seen FROM app_user") == [{"seen": True}]


def test_unknown_email_and_wrong_password_look_the_same(auth, make):
    make.user(email="dee@example.com")
    wrong_password = problem(
        auth.login("dee@example.com", "Wrong-Pass-1"), 401, "invalid_credentials"
    )
    no_such_user = problem(
        auth.login("nobody@example.com", "Wrong-Pass-1"), 401, "invalid_credentials"
    )
    assert wrong_password == no_such_user


def test_me_needs_a_token(client):
    body = problem(client.get("/api/auth/me"), 401, "token_missing")
    assert "Authorization: Bearer" in body["detail"]


def test_expired_token_is_401_saying_to_refresh(auth, client, make):
    user = make.user()
    headers = auth.headers(user, expires_delta=timedelta(seconds=-1))
    body = problem(client.get("/api/auth/me", headers=headers), 401, "token_expired")
    assert "/api/auth/refresh" in body["detail"]


def test_tampered_token_is_401(auth, client, make):
    token = auth.token(make.user())
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    problem(
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"}),
        401,
        "token_invalid",
    )


def test_token_signed_with_another_key_is_401(client, make):
    user = make.user()
    forged = pyjwt.encode(
        {
            "sub": str(user.id),
            "type": "access",
            "jti": "x",
            "exp": int(time.time()) + 60,
            "fresh": False,
        },
        "another-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )
    problem(
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"}),
        401,
        "token_invalid",
    )


def test_alg_none_token_is_401(client, make):
    user = make.user()
    unsigned = pyjwt.encode(
        {"sub": str(user.id), "type": "access", "jti": "x", "exp": int(time.time()) + 60},
        None,
        algorithm="none",
    )
    problem(
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {unsigned}"}),
        401,
        "token_invalid",
    )


def test_garbage_and_malformed_headers_are_401(client):
    problem(
        client.get("/api/auth/me", headers={"Authorization": "Bearer not.a.jwt"}),
        401,
        "token_invalid",
    )
    problem(
        client.get("/api/auth/me", headers={"Authorization": "Basic abc"}), 401, "token_missing"
    )


def test_a_request_parses_its_token_once_not_four_times(auth, client, make, monkeypatch):
    """shop/jwt_manager.py: flask-jwt-extended alone parses a token four times per request (two
    unverified passes that only matter with a key loader, the verified one, the header), each
    checking every character in Python. The verified parse, which returns the header too, is
    left."""
    parses = []
    parse = pyjwt.api_jws.PyJWS._load

    def counted(self, token):
        parses.append(token)
        return parse(self, token)

    monkeypatch.setattr(pyjwt.api_jws.PyJWS, "_load", counted)
    headers = auth.headers(make.user())
    assert client.get("/api/auth/me", headers=headers).status_code == 200
    assert client.get("/api/cart", headers=headers).status_code == 200
    assert client.get("/api/orders", headers=headers).status_code == 200
    assert len(parses) == 3


def _token_variants(app, auth, make, client, sql) -> dict[str, dict[str, str]]:
    """Authorization headers of every kind a client (or an attacker) may send."""
    user, gone, revoked = make.user(), make.user(), make.user()
    secret = app.config["JWT_SECRET_KEY"]
    access, refresh = auth.token(user), auth.token(user, refresh=True)
    claims = {"sub": str(user.id), "type": "access", "fresh": False, "jti": "j1"}
    claims["exp"] = int(time.time()) + 60
    logged_out = auth.headers(revoked)
    assert client.post("/api/auth/logout", headers=logged_out).status_code == 204
    header, payload, signature = access.split(".")
    variants = {
        "valid": f"Bearer {access}",
        "refresh token": f"Bearer {refresh}",
        "expired": auth.headers(user, expires_delta=timedelta(seconds=-1))["Authorization"],
        "tampered": f"Bearer {header}.{payload}.{signature[:-4]}AAAA",
        "another key": "Bearer " + pyjwt.encode(claims, "x" * 48, algorithm="HS256"),
        "HS512": "Bearer " + pyjwt.encode(claims, secret, algorithm="HS512"),
        "alg none": "Bearer " + pyjwt.encode(claims, None, algorithm="none"),
        "no jti": "Bearer "
        + pyjwt.encode({k: v for k, v in claims.items() if k != "jti"}, secret, "HS256"),
        "no sub": "Bearer "
        + pyjwt.encode({k: v for k, v in claims.items() if k != "sub"}, secret, "HS256"),
        "sub not ours": "Bearer " + pyjwt.encode({**claims, "sub": "x1"}, secret, "HS256"),
        "not yet valid": "Bearer "
        + pyjwt.encode({**claims, "nbf": int(time.time()) + 600}, secret, "HS256"),
        "deleted user": auth.headers(gone)["Authorization"],
        "logged out": logged_out["Authorization"],
        "garbage": "Bearer not.a.jwt",
        "lower-case scheme": f"bearer {access}",
        "two spaces": f"Bearer  {access}",
        "trailing space": f"Bearer {access} ",
        "leading space": f" Bearer {access}",
        "a tab": f"Bearer\t{access}",
        "two tokens": f"Bearer {access}, Bearer {access}",
        "comma": f"Bearer {access},",
        "three words": f"Bearer {access} x",
        "basic": "Basic abc",
        "empty": "",
    }
    sql("DELETE FROM app_user WHERE id = :id", id=gone.id)
    return {name: ({"Authorization": value} if value else {}) for name, value in variants.items()}


# Routes behind each guard: `jwt_required()`, the cart's optional sign-in, the admin guard, and
# `jwt_required(refresh=True)` (a valid refresh token is left out there: using it changes state).
GUARDED = [
    ("GET", "/api/auth/me"),
    ("GET", "/api/cart"),
    ("GET", "/api/orders"),
    ("POST", "/api/admin/categories"),
    ("POST", "/api/auth/refresh"),
]


# What flask-jwt-extended accepts of a valid token, besides `Bearer <token>`.
ACCEPTED_FORMS = ("valid", "two spaces", "trailing space", "leading space", "a tab", "comma")


def test_every_token_gets_the_libraries_answer_on_every_guard(
    app, auth, make, client, sql, monkeypatch
):
    """shop/jwt_manager.py verifies a valid `Bearer` token in one pass and hands everything
    else to flask-jwt-extended's own `verify_jwt_in_request`. For every kind of header, on every
    kind of guard, the answer is the one the library's path gives (run with the one-pass path
    switched off)."""
    from shop.jwt_manager import SingleParseJWTManager

    variants = _token_variants(app, auth, make, client, sql)

    def answers() -> dict[tuple[str, str], tuple]:
        seen = {}
        for method, path in GUARDED:
            for name, headers in variants.items():
                if path == "/api/auth/refresh" and name == "refresh token":
                    continue
                response = client.open(path, method=method, json={}, headers=headers)
                body = response.get_json()
                body = body if response.status_code >= 400 else sorted(body["data"])
                seen[path, name] = (
                    response.status_code,
                    body,
                    response.headers.get("WWW-Authenticate"),
                )
        return seen

    one_pass = answers()
    monkeypatch.setattr(SingleParseJWTManager, "verified_in_one_pass", lambda self, refresh: None)
    assert one_pass == answers()
    # (And the answers are the ones these tokens deserve.)
    assert {name: one_pass["/api/auth/me", name][0] for name in variants} == {
        name: 200 if name in ACCEPTED_FORMS else 401 for name in variants
    }
    assert one_pass["/api/admin/categories", "valid"][0] == 403
    assert one_pass["/api/cart", "empty"][0] == 200  # no token: a guest
    assert one_pass["/api/auth/refresh", "valid"][1]["code"] == "wrong_token_type"


def test_the_signed_in_user_is_read_as_plain_values_not_an_orm_object(app, make, auth):
    """Every authenticated request reads its user with the token's revocation; as plain values
    (shop/services/accounts.py `SignedInUser`), the session builds and tracks no ORM object."""
    from flask_jwt_extended import current_user, verify_jwt_in_request

    from shop.extensions import db
    from shop.models import Role

    user = make.user(role="admin", name="Ada")
    with app.test_request_context(headers=auth.headers(user)):
        verify_jwt_in_request()
        assert len(db.session.identity_map) == 0
        signed_in = current_user._get_current_object()
        assert (signed_in.id, signed_in.email, signed_in.name, signed_in.role) == (
            user.id,
            user.email,
            "Ada",
            Role.ADMIN,
        )
        assert signed_in.created_at == user.created_at
        assert signed_in.is_admin


def test_an_expired_refresh_token_still_says_sign_in_again(auth, client, make):
    # The expired-token loader reads the token's type: the claims still reach it.
    user = make.user()
    with client.application.app_context():
        from flask_jwt_extended import create_refresh_token

        token = create_refresh_token(identity=str(user.id), expires_delta=timedelta(seconds=-1))
    body = problem(
        client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {token}"}),
        401,
        "token_expired",
    )
    assert "refresh token has expired" in body["detail"]
    assert "POST /api/auth/login" in body["detail"]


def test_refresh_token_is_not_an_access_token_and_vice_versa(auth, client, make):
    user = make.user()
    refresh = auth.headers(user, refresh=True)
    access = auth.headers(user)
    body = problem(client.get("/api/auth/me", headers=refresh), 401, "wrong_token_type")
    assert "access token" in body["detail"]
    body = problem(client.post("/api/auth/refresh", headers=access), 401, "wrong_token_type")
    assert "refresh token" in body["detail"]


def test_refresh_gives_a_working_access_token(auth, client, make):
    user = make.user()
    response = client.post("/api/auth/refresh", headers=auth.headers(user, refresh=True))
    assert response.status_code == 200
    token = response.get_json()["data"]["accessToken"]
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


def test_logout_revokes_the_access_and_refresh_tokens(auth, client, make, sql):
    user = make.user(email="eve@example.com")
    tokens = auth.login("eve@example.com").get_json()["data"]
    access = {"Authorization": f"Bearer {tokens['accessToken']}"}
    response = client.post(
        "/api/auth/logout", headers=access, json={"refreshToken": tokens["refreshToken"]}
    )
    assert response.status_code == 204
    assert response.data == b""
    body = problem(client.get("/api/auth/me", headers=access), 401, "token_revoked")
    assert "sign in again" in body["detail"].lower()
    refresh = {"Authorization": f"Bearer {tokens['refreshToken']}"}
    problem(client.post("/api/auth/refresh", headers=refresh), 401, "token_revoked")
    assert sql("SELECT token_type FROM revoked_token ORDER BY token_type") == [
        {"token_type": "access"},
        {"token_type": "refresh"},
    ]
    assert user.id


def test_logout_refuses_someone_elses_refresh_token(auth, client, make, sql):
    me, other = make.user(), make.user()
    response = client.post(
        "/api/auth/logout",
        headers=auth.headers(me),
        json={"refreshToken": auth.token(other, refresh=True)},
    )
    problem(response, 422, "validation_failed")
    assert sql("SELECT count(*) AS n FROM revoked_token") == [{"n": 0}]


def test_token_of_a_deleted_account_is_401(auth, client, make, sql):
    user = make.user()
    headers = auth.headers(user)
    sql("DELETE FROM app_user WHERE id = :id", id=user.id)
    problem(client.get("/api/auth/me", headers=headers), 401, "token_invalid")


@pytest.fixture
def limited_client(database_url):
    """A client with rate limiting on."""
    with rate_limited_client(database_url, {"RATELIMIT_AUTH": "3 per minute"}) as client:
        yield client


def test_login_and_signup_are_rate_limited_per_client(limited_client):
    client = limited_client
    attempt = {"email": "x@example.com", "password": "Wrong-Pass-1"}
    statuses = [client.post("/api/auth/login", json=attempt).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    response = client.post("/api/auth/login", json=attempt)
    body = problem(response, 429, "rate_limited")
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "Retry-After" in body["detail"] and "3 per 1 minute" in body["detail"]
    from_elsewhere = client.post(
        "/api/auth/login", json=attempt, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert from_elsewhere.status_code == 401
    signup = client.post("/api/auth/signup", json={"email": "y@example.com"})
    assert signup.status_code == 422  # its own limit: validation still answers


def test_the_tokens_user_read_on_the_driver_is_what_sqlalchemy_reads(app, make, auth):
    """Every signed-in request reads its token's user and revocation with one statement, sent
    through psycopg's raw cursor (shop.database.read_rows) unless something listens to
    statement events: both ways give the same user, with its role as a `Role`, and the same
    revocation."""
    from flask_jwt_extended import decode_token
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from shop.extensions import db
    from shop.models import Role
    from shop.services.accounts import user_and_revocation

    admin = make.user(role="admin")
    token = auth.headers(admin)["Authorization"].split()[1]
    with app.app_context():
        payload = decode_token(token)
        on_the_driver = user_and_revocation(db.session(), admin.id, payload)
        event.listen(Engine, "before_cursor_execute", _ignore)
        try:
            through_sqlalchemy = user_and_revocation(db.session(), admin.id, payload)
        finally:
            event.remove(Engine, "before_cursor_execute", _ignore)
        gone = user_and_revocation(db.session(), admin.id + 1000, payload)
    assert on_the_driver == through_sqlalchemy
    user, revoked = on_the_driver
    assert (user.id, user.email, revoked) == (admin.id, admin.email, False)
    assert user.role is Role.ADMIN and user.is_admin
    assert gone == (None, False)


def _ignore(*args):
    pass
