"""OWASP API2/API8: no usable secret in the code, production refuses weak ones, a remote
database needs SHOP_ENV, refresh tokens rotate and reuse ends the family, logout ends the
family, tokens without jti are refused, logs carry no SQL parameters."""

import logging
import os
import secrets
import stat
import time

import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from config import PUBLISHED_SECRETS, ConfigError, DevelopmentConfig, ProductionConfig
from shop import create_app
from shop.errors import handle_database_unavailable, handle_unexpected
from shop.extensions import db, limiter
from shop.request_log import JsonFormatter
from shop.secrets import SECRET_FILE
from tests.security.helpers import assert_problem


def development_app(database_url, instance):
    os.environ["SHOP_INSTANCE_PATH"] = str(instance)
    try:
        return create_app("development", {"SQLALCHEMY_DATABASE_URI": database_url})
    finally:
        del os.environ["SHOP_INSTANCE_PATH"]


def test_development_generates_a_private_secret_per_instance_folder(
    database_url, tmp_path, monkeypatch
):
    monkeypatch.setattr(DevelopmentConfig, "JWT_SECRET_KEY", None)
    first = development_app(database_url, tmp_path / "a")
    again = development_app(database_url, tmp_path / "a")
    other = development_app(database_url, tmp_path / "b")
    secret = first.config["JWT_SECRET_KEY"]
    assert len(secret) >= 64 and secret == again.config["JWT_SECRET_KEY"]
    assert other.config["JWT_SECRET_KEY"] != secret
    assert stat.S_IMODE((tmp_path / "a" / SECRET_FILE).stat().st_mode) == 0o600
    for app in (first, again, other):
        with app.app_context():
            db.engine.dispose()
    limiter.enabled = False  # one global extension: the development apps switched it on


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (sorted(PUBLISHED_SECRETS)[0], "published"),
        ("dev-only-secret-not-for-production-0123456789", "published"),
        ("short-but-random-Xy7", "shorter than 32"),
        ("ab" * 24, "distinct characters"),
    ],
)
def test_production_refuses_weak_and_published_secrets(monkeypatch, secret, reason):
    monkeypatch.setattr(ProductionConfig, "JWT_SECRET_KEY", secret)
    monkeypatch.setattr(ProductionConfig, "DATABASE_URL", "postgres://u:p@db.example/shop")
    with pytest.raises(ConfigError, match=reason):
        ProductionConfig.validate()


def test_production_refuses_the_development_secret_of_its_instance_folder(monkeypatch, tmp_path):
    secret = secrets.token_urlsafe(48)
    (tmp_path / SECRET_FILE).write_text(secret)
    monkeypatch.setattr(ProductionConfig, "JWT_SECRET_KEY", secret)
    monkeypatch.setattr(ProductionConfig, "DATABASE_URL", "postgres://u:p@db.example/shop")
    monkeypatch.setenv("SHOP_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="development secret"):
        create_app("production")


def test_a_remote_database_without_shop_env_refuses_to_start(monkeypatch, caplog):
    monkeypatch.setattr(DevelopmentConfig, "DATABASE_URL", "postgres://u:p@db.example.com/shop")
    monkeypatch.delenv("SHOP_ENV", raising=False)
    with pytest.raises(ConfigError, match="SHOP_ENV is not set"):
        DevelopmentConfig.validate()
    monkeypatch.setenv("SHOP_ENV", "development")
    with caplog.at_level(logging.WARNING):
        DevelopmentConfig.validate()
    assert "DEVELOPMENT configuration against a remote database" in caplog.text
    assert "p@" not in caplog.text  # the password part of the URL is not logged
    for local in ("postgresql://u@localhost/shop", "postgresql://u@/shop?host=/tmp/pg"):
        monkeypatch.setattr(DevelopmentConfig, "DATABASE_URL", local)
        monkeypatch.delenv("SHOP_ENV", raising=False)
        DevelopmentConfig.validate()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_refresh_tokens_rotate_and_reuse_revokes_the_family(auth, client, make, sql):
    make.user(email="rot@example.com")
    first = auth.login("rot@example.com").get_json()["data"]
    rotated = client.post("/api/auth/refresh", headers=bearer(first["refreshToken"]))
    assert rotated.status_code == 200
    second = rotated.get_json()["data"]
    assert second["refreshToken"] != first["refreshToken"]
    assert client.get("/api/auth/me", headers=bearer(second["accessToken"])).status_code == 200

    reused = client.post("/api/auth/refresh", headers=bearer(first["refreshToken"]))
    assert "already used" in assert_problem(reused, 401, "token_revoked")["detail"]
    # The whole family is gone: the thief's and the owner's tokens alike.
    for token in (second["refreshToken"],):
        assert_problem(client.post("/api/auth/refresh", headers=bearer(token)), 401)
    for token in (first["accessToken"], second["accessToken"]):
        assert_problem(client.get("/api/auth/me", headers=bearer(token)), 401, "token_revoked")
    rows = sql("SELECT count(*) AS n, count(revoked_at) AS revoked FROM refresh_token")
    assert rows == [{"n": 2, "revoked": 2}]


def test_logout_without_a_refresh_token_in_the_body_ends_the_refresh_family(auth, client, make):
    make.user(email="out@example.com")
    tokens = auth.login("out@example.com").get_json()["data"]
    assert client.post("/api/auth/logout", headers=bearer(tokens["accessToken"])).status_code == 204
    assert_problem(
        client.post("/api/auth/refresh", headers=bearer(tokens["refreshToken"])),
        401,
        "token_revoked",
    )
    # Another sign-in (another device) is a different family and keeps working.
    other = auth.login("out@example.com").get_json()["data"]
    assert (
        client.post("/api/auth/refresh", headers=bearer(other["refreshToken"])).status_code == 200
    )


def test_tokens_without_jti_are_refused(app, client, make):
    user = make.user()
    now = int(time.time())
    for kind, path, method in (
        ("access", "/api/auth/me", "get"),
        ("refresh", "/api/auth/refresh", "post"),
    ):
        token = jwt.encode(
            {"sub": str(user.id), "type": kind, "fresh": False, "iat": now, "exp": now + 600},
            app.config["JWT_SECRET_KEY"],
            algorithm="HS256",
        )
        response = getattr(client, method)(path, headers=bearer(token))
        assert "jti" in assert_problem(response, 401, "token_invalid")["detail"]


def test_logs_never_contain_sql_parameters_or_quoted_values(app, caplog):
    formatter = JsonFormatter()
    secret_value = "hunter2-do-not-log"
    with caplog.at_level(logging.WARNING), app.test_request_context():
        for statement in ("SELECT CAST(:p AS integer)", "SELECT no_such_function(:p)"):
            try:
                db.session.execute(text(statement), {"p": secret_value})
            except DBAPIError as error:
                db.session.rollback()
                handle_database_unavailable(error)
                handle_unexpected(error)
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert "SQLSTATE 22P02" in logged and "no_such_function" in logged
    assert secret_value not in logged
