"""Assertions and helpers shared by the test modules."""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from shop import create_app
from shop.problems import PROBLEM_TITLES


def problem(response, status: int, code: str | None = None) -> dict:
    """Assert an RFC 9457 problem answer with this status (and code); return its body."""
    assert response.status_code == status, (
        response.status_code,
        response.get_data(as_text=True)[:300],
    )
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    for member in ("type", "title", "status", "detail", "code"):
        assert member in body, body
    assert body["status"] == status
    # One constant title per code (RFC 9457), whichever layer answered.
    assert body["title"] == PROBLEM_TITLES[body["code"]], body
    if code is not None:
        assert body["code"] == code, body
    return body


def violations(app) -> list[str]:
    """What `flask check` would report right now (an empty list: seats and money add up)."""
    from shop.extensions import db
    from shop.services.consistency import find_violations

    with app.app_context():
        found = find_violations(
            db.session,
            hold_minutes=app.config["CART_HOLD_MINUTES"],
            max_renewals=app.config["CART_HOLD_MAX_RENEWALS"],
        )
        db.session.remove()
    return [str(violation) for violation in found]


def run_together(actions):
    """Run every callable at the same moment, one thread each (a barrier lines them up), and
    return their results in order."""
    barrier = threading.Barrier(len(actions))

    def go(action):
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(go, actions))


@contextmanager
def rate_limited_client(database_url: str, limits: dict) -> Iterator:
    """A client of a second app with rate limiting on and these `limits` (config overrides).
    flask-limiter keeps `enabled` on its one global Limiter: it is switched back off after."""
    from shop.extensions import db, limiter

    app = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": True, **limits}
    )
    try:
        yield app.test_client()
    finally:
        limiter.enabled = False
        with app.app_context():
            db.engine.dispose()
