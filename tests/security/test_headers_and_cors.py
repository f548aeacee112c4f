"""OWASP API8:2023 Security Misconfiguration: security headers on every answer, no stack
traces, and CORS only for the configured origins."""

import pytest

from shop import create_app
from shop.extensions import db


@pytest.mark.parametrize("path", ["/api/events", "/api/nope", "/api/auth/me", "/api/docs"])
def test_security_headers_on_every_answer(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Server" not in response.headers or "Python" not in response.headers["Server"]


def test_personal_answers_are_never_cached(client, make, auth):
    response = client.get("/api/auth/me", headers=auth.headers(make.user()))
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def cors_client(database_url):
    app = create_app(
        "testing",
        {"SQLALCHEMY_DATABASE_URI": database_url, "CORS_ORIGINS": ["https://shop.example"]},
    )
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


def test_cors_only_for_configured_origins(cors_client):
    allowed = cors_client.options(
        "/api/events",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    evil = cors_client.get("/api/events", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil.headers


def test_no_cors_when_none_configured(client):
    response = client.get("/api/events", headers={"Origin": "https://shop.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
