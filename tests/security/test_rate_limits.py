"""OWASP API4/API2: rate limits that hold. Counters live in PostgreSQL (shared by every worker
and instance), proxy headers count only when a proxy is configured, and sign-in attempts are
limited per account as well as per address."""

import http.client
import json
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from shop import create_app
from shop.database import libpq_url
from shop.extensions import db, limiter
from tests.security.helpers import assert_problem
from tests.security.live import live_server


def forget_counters(database_url: str) -> None:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("DELETE FROM rate_limit_hit")
        conn.execute("DELETE FROM rate_limit_counter")


@pytest.fixture
def limited_app(database_url):
    """Build an app with limits on, counted in PostgreSQL (real commits, cleaned up after).
    Flask-Limiter is one global extension: switch it back off for the rest of the suite."""
    apps = []

    def build(**config):
        settings = {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "database://",
            "RATELIMIT_AUTH": "3 per minute",
            "RATELIMIT_LOGIN_ACCOUNT": "100 per minute",
            **config,
        }
        apps.append(create_app("testing", settings))
        return apps[-1]

    forget_counters(database_url)
    yield build
    limiter.enabled = False
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    forget_counters(database_url)


def attempt(email: str = "nobody@example.com") -> dict:
    return {"email": email, "password": "Wrong-Pass-1"}


def test_forwarded_for_is_ignored_without_a_configured_proxy(limited_app):
    client = limited_app(PROXY_FIX_X_FOR=0).test_client()
    statuses = [
        client.post(
            "/api/auth/login", json=attempt(), headers={"X-Forwarded-For": f"10.0.0.{n}"}
        ).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_one_configured_proxy_hop_names_the_client(limited_app):
    client = limited_app(PROXY_FIX_X_FOR=1).test_client()
    # Render's balancer appends the address it saw; what the client wrote before it is ignored.
    spoofed = [
        client.post(
            "/api/auth/login",
            json=attempt(),
            headers={"X-Forwarded-For": f"1.2.3.{n}, 203.0.113.9"},
        ).status_code
        for n in range(4)
    ]
    assert spoofed == [401, 401, 401, 429]
    other = client.post(
        "/api/auth/login", json=attempt(), headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert other.status_code == 401


def test_failed_logins_are_limited_per_account_across_addresses(limited_app):
    client = limited_app(
        RATELIMIT_AUTH="100 per minute", RATELIMIT_LOGIN_ACCOUNT="3 per minute"
    ).test_client()
    statuses = [
        client.post(
            "/api/auth/login",
            json=attempt(" Target@Example.com"),
            environ_base={"REMOTE_ADDR": f"10.9.0.{n}"},
        ).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    refused = client.post("/api/auth/login", json=attempt("target@example.com"))
    body = assert_problem(refused, 429, "rate_limited")
    assert "3 per 1 minute" in body["detail"]
    assert 50 <= int(refused.headers["Retry-After"]) <= 60  # when the oldest attempt expires
    assert client.post("/api/auth/login", json=attempt("other@example.com")).status_code == 401


def login(port: int, n: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps(attempt(f"user{n}@example.com"))
    connection.request("POST", "/api/auth/login", body, {"Content-Type": "application/json"})
    status = connection.getresponse().status
    connection.close()
    return status


def test_ten_per_minute_is_ten_across_two_masters_with_two_workers_each(database_url, tmp_path):
    forget_counters(database_url)
    limits = {
        "RATELIMIT_ENABLED": "true",
        "RATELIMIT_AUTH": "10 per minute",
        "RATELIMIT_LOGIN_ACCOUNT": "100 per minute",
    }
    try:
        with (
            live_server(database_url, tmp_path, workers=2, **limits) as first,
            live_server(database_url, tmp_path, workers=2, **limits) as second,
        ):
            ports = [first, second] * 15
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(login, ports, range(len(ports))))
    finally:
        forget_counters(database_url)
    assert statuses.count(401) == 10
    assert statuses.count(429) == 20


def test_password_hashing_never_takes_every_worker(client, make, tmp_path):
    """With every hashing slot of the instance busy (another worker hashing), a login answers
    at once with a 503 to retry instead of taking this worker too."""
    import fcntl
    import os

    from shop.services import passwords

    make.user(email="busy@example.com")
    passwords.bound_concurrency(1, tmp_path)
    lock = os.open(tmp_path / "locks" / "password-hash-0.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = client.post("/api/auth/login", json=attempt("busy@example.com"))
        assert_problem(busy, 503, "sign_in_busy")
        assert busy.headers["Retry-After"] == "1"
        fcntl.flock(lock, fcntl.LOCK_UN)
        login = {"email": "busy@example.com", "password": "Correct-Horse-9"}
        assert client.post("/api/auth/login", json=login).status_code == 200
    finally:
        os.close(lock)
        passwords.bound_concurrency(0, None)


def test_public_reads_touch_no_rate_limit_storage(limited_app, database_url):
    client = limited_app().test_client()
    statuses = [client.get("/api/events").status_code for _ in range(5)]
    assert statuses == [200] * 5
    with psycopg.connect(libpq_url(database_url)) as conn:
        hits = conn.execute("SELECT count(*) FROM rate_limit_hit").fetchone()[0]
        counters = conn.execute("SELECT count(*) FROM rate_limit_counter").fetchone()[0]
    assert (hits, counters) == (0, 0)


def test_the_limiters_state_exists_only_on_requests_that_checked_a_limit(limited_app):
    """RouteLimiter runs Flask-Limiter's header and reset hooks only after a limit check: a
    public read creates no limiter state, while a limited route still gets its headers (and a
    default limit, below, still applies to every route)."""
    from flask.globals import request_ctx

    client = limited_app().test_client()
    with client:
        assert client.get("/api/events").status_code == 200
        assert not hasattr(request_ctx, "_limiter_request_context")
        assert "X-RateLimit-Limit" not in client.get("/api/health").headers
        login = client.post("/api/auth/login", json=attempt())
        assert hasattr(request_ctx, "_limiter_request_context")
    assert login.status_code == 401
    assert int(login.headers["X-RateLimit-Remaining"]) >= 0


def test_a_limit_for_every_route_still_applies_to_every_route(database_url):
    # RouteLimiter skips Flask-Limiter's per-request hook only while no route-wide limit
    # exists; a default limit must bring it back.
    from flask import Flask

    from shop.ratelimit import RouteLimiter

    app = Flask(__name__)
    app.config.update(RATELIMIT_STORAGE_URI="memory://", RATELIMIT_ENABLED=True)
    RouteLimiter(key_func=lambda: "one client", default_limits=["2 per minute"], app=app)
    app.add_url_rule("/ping", "ping", lambda: "pong")
    client = app.test_client()
    assert [client.get("/ping").status_code for _ in range(3)] == [200, 200, 429]
