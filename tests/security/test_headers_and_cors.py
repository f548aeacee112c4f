"""OWASP API8:2023 Security Misconfiguration: security headers on every answer (CSP, HSTS in
production), no stack traces, and CORS only for the configured origins, cacheable and varying by
Origin."""

import secrets

import pytest

from shop import create_app
from shop.extensions import db, limiter


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


def test_cors_headers_answer_only_requests_that_say_their_origin(cors_client):
    """A browser's cross-origin request always sends Origin; an answer to a request without
    one (curl, a server, a same-origin page) carries no CORS headers, only `Vary: Origin`."""
    plain = cors_client.get("/api/events")
    assert plain.status_code == 200
    assert not [name for name, _ in plain.headers if name.startswith("Access-Control")]
    assert "Origin" in plain.headers["Vary"]
    browser = cors_client.get("/api/events", headers={"Origin": "https://shop.example"})
    assert browser.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "X-Request-ID" in browser.headers["Access-Control-Expose-Headers"]
    missing = cors_client.get("/api/events/2147483647", headers={"Origin": "https://shop.example"})
    assert missing.status_code == 404
    assert missing.headers["Access-Control-Allow-Origin"] == "https://shop.example"


def test_no_cors_when_none_configured(app, client):
    response = client.get("/api/events", headers={"Origin": "https://shop.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options(
        "/api/cart/items",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert not [name for name, _ in preflight.headers if name.startswith("Access-Control")]
    # ... and no answer pays for a CORS hook that could add nothing.
    hooks = [f for functions in app.after_request_funcs.values() for f in functions]
    assert not [f for f in hooks if "flask_cors" in getattr(f, "__module__", "")]


def test_json_answers_allow_nothing_and_the_docs_page_only_its_own_assets(client):
    api = client.get("/api/events")
    assert api.headers["Content-Security-Policy"].startswith("default-src 'none'")
    docs = client.get("/api/docs")
    policy = docs.headers["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in docs.get_data(as_text=True)
    assert "script-src 'self' 'nonce-" in policy and "unsafe-eval" not in policy
    assert client.get("/api/docs").headers["Content-Security-Policy"] != policy  # fresh nonce


def test_hsts_only_in_production(client, monkeypatch, database_url):
    from config import ProductionConfig

    assert "Strict-Transport-Security" not in client.get("/api/health").headers
    monkeypatch.setattr(ProductionConfig, "DATABASE_URL", database_url)
    monkeypatch.setattr(ProductionConfig, "JWT_SECRET_KEY", "k" + secrets.token_urlsafe(47))
    production = create_app("production")
    try:
        response = production.test_client().get("/api/docs")
        assert response.headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains"
        )
    finally:
        limiter.enabled = False  # one global extension: production switched it on
        with production.app_context():
            db.engine.dispose()


def test_cors_preflights_are_cacheable_and_answers_vary_by_origin(cors_client):
    preflight = cors_client.options(
        "/api/cart/items",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, X-Cart-Token",
        },
    )
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in preflight.headers["Vary"]
    refused = cors_client.get("/api/events", headers={"Origin": "https://evil.example"})
    assert "Origin" in refused.headers["Vary"]
