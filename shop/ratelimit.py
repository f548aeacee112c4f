"""Rate limits: who a client is, and where the counters live.

Counters must be shared by every worker and every instance, or "10 per minute" means 10 per
worker (and a worker recycle resets it). By default they live in the app's own PostgreSQL,
through the `limits` library's storage interface: `RATELIMIT_STORAGE_URI=database://` selects
`DatabaseStorage` below. A `redis://` URI selects the library's Redis storage instead.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.globals import request_ctx
from flask_limiter import Limiter
from limits.storage import MovingWindowSupport, Storage
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shop.services.errors import MalformedJson


class RouteLimiter(Limiter):
    """Flask-Limiter, minus the work its `before_request` hook does for nothing on our routes.

    The library checks limits in two places: in the decorator of a limited route (signup,
    login, new guest carts) and in a `before_request` hook for the limits that apply to *every*
    route (default, application-wide and blueprint limits). We configure none of the latter, so
    the hook resolves an empty list on every request: about 40 µs of CPU on a public GET (see
    bench/request_overhead.py), and no storage access. This skips it while there are no such
    limits; add a default or blueprint limit and the library's hook runs as before.
    """

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        if in_middleware and not self._has_limits_for_every_route():
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    def init_app(self, app: Flask) -> None:
        """The library's set-up, then its after-request and teardown hooks made to run only on
        requests where a limit was checked.

        Fast path: those two hooks read and reset the request's limiter state (the limit to put
        in the `X-RateLimit-*` headers, the deductions a sign-in's outcome decides). The state
        is created by the first limit check of the request; on a route without limits (every
        public read) nothing checked one, so the hooks would create empty state only to find
        nothing in it: ~5 µs of CPU a request (bench/request_overhead.py), now skipped."""
        super().init_app(app)
        for hooks in (app.after_request_funcs[None], app.teardown_request_funcs[None]):
            for index, hook in enumerate(hooks):
                if _is_limiter_state_hook(self, hook):
                    hooks[index] = _after_a_limit_check(hook)

    def _has_limits_for_every_route(self) -> bool:
        manager = self.limit_manager
        return bool(
            manager._application_limits
            or manager._default_limits
            or manager._blueprint_limits
            or self._in_memory_fallback
        )


# Flask-Limiter's hooks that read and reset the request's limiter state (private names: the
# version is pinned, and tests/security/test_rate_limits.py checks the headers and deductions).
_STATE_HOOKS = (Limiter._Limiter__inject_headers, Limiter._Limiter__release_context)  # type: ignore[attr-defined]


def _is_limiter_state_hook(limiter: Limiter, hook: Any) -> bool:
    function = getattr(hook, "func", None) or getattr(hook, "__func__", None)  # partial, method
    return function in _STATE_HOOKS and limiter in (
        *getattr(hook, "args", ()),
        getattr(hook, "__self__", None),
    )


def _after_a_limit_check(hook: Any) -> Any:
    def run_after_a_limit_check(value: Any) -> Any:
        # The library keeps a request's limiter state on the request context, created by the
        # first limit check; without it there is nothing to add or reset.
        if not hasattr(request_ctx, "_limiter_request_context"):
            return value
        return hook(value)

    return run_after_a_limit_check


def client_key() -> str:
    """The client's address. `remote_addr` is the TCP peer unless `PROXY_FIX_X_FOR` trusted
    proxies are configured (Render: 1), in which case ProxyFix has put the address the last
    trusted proxy saw there. Headers from anyone else are ignored."""
    return request.remote_addr or "unknown"


def login_account_key() -> str:
    """The account a sign-in attempt is for (the normalised email in the body), so attempts on
    one account from many addresses (credential stuffing) share one counter."""
    from shop.json_input import load_json_body
    from shop.services.users import normalize_email

    try:
        body = load_json_body(request.get_data(cache=True) or b"{}")
    except MalformedJson:
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str):
        # Not a sign-in attempt the route will even consider; it answers 400/422 by itself.
        return "account:-"
    return "account:" + normalize_email(email)[:254]


def failed_sign_in(response) -> bool:
    """Only wrong credentials count against an account: its owner is not locked out by their
    own successful sign-ins, nor by typos in the body."""
    return response.status_code == 401


# Every statement runs in its own short transaction on the app's engine (never inside the
# request's session): a counted hit stays counted even when the request later rolls back.
NOW = "extract(epoch FROM clock_timestamp())"


class DatabaseStorage(Storage, MovingWindowSupport):
    """`limits` storage in the app's PostgreSQL (tables `rate_limit_hit`, `rate_limit_counter`).

    Moving window (our strategy): one row per counted request. Acquiring an entry takes a
    transaction-level advisory lock on the key, so two workers (or instances) counting the same
    client at the same moment are serialised, and "10 per minute" is exactly 10. Times come
    from the database clock. Cost: one short transaction (3 statements) per limited request.
    """

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return DBAPIError

    @staticmethod
    def _engine():
        # The engine of the app handling the request (a storage outlives no app: Flask-Limiter
        # calls it only inside requests).
        from shop.extensions import db

        return db.engine

    def _run(self, statement: str, **params):
        with self._engine().begin() as connection:
            return connection.execute(text(statement), params)

    # Moving window -------------------------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        with self._engine().begin() as connection:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
            )
            count = connection.execute(
                text(
                    "WITH gone AS (DELETE FROM rate_limit_hit WHERE key = :key"
                    f" AND hit_at <= {NOW} - :expiry)"
                    f" SELECT count(*) FROM rate_limit_hit WHERE key = :key"
                    f" AND hit_at > {NOW} - :expiry"
                ),
                {"key": key, "expiry": expiry},
            ).scalar_one()
            if count + amount > limit:
                return False
            connection.execute(
                text(
                    "INSERT INTO rate_limit_hit (key, hit_at, expires_at)"
                    f" SELECT :key, {NOW}, {NOW} + :expiry FROM generate_series(1, :amount)"
                ),
                {"key": key, "expiry": expiry, "amount": amount},
            )
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        row = self._run(
            f"SELECT min(hit_at), count(*), {NOW} FROM rate_limit_hit"
            f" WHERE key = :key AND hit_at > {NOW} - :expiry",
            key=key,
            expiry=expiry,
        ).one()
        oldest, count, now = row
        return (oldest if count else now), count

    # Fixed window ----------------------------------------------------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._run(
            "INSERT INTO rate_limit_counter AS c (key, count, expires_at)"
            f" VALUES (:key, :amount, {NOW} + :expiry)"
            " ON CONFLICT (key) DO UPDATE SET"
            f" count = CASE WHEN c.expires_at <= {NOW} THEN :amount ELSE c.count + :amount END,"
            f" expires_at = CASE WHEN c.expires_at <= {NOW} THEN {NOW} + :expiry"
            " ELSE c.expires_at END"
            " RETURNING count",
            key=key,
            amount=amount,
            expiry=expiry,
        ).scalar_one()

    def get(self, key: str) -> int:
        count = self._run(
            f"SELECT count FROM rate_limit_counter WHERE key = :key AND expires_at > {NOW}",
            key=key,
        ).scalar()
        return count or 0

    def get_expiry(self, key: str) -> float:
        return self._run(
            f"SELECT coalesce((SELECT expires_at FROM rate_limit_counter WHERE key = :key), {NOW})",
            key=key,
        ).scalar_one()

    def clear(self, key: str) -> None:
        self._run("DELETE FROM rate_limit_counter WHERE key = :key", key=key)
        self._run("DELETE FROM rate_limit_hit WHERE key = :key", key=key)

    def reset(self) -> int | None:
        counters = self._run("DELETE FROM rate_limit_counter").rowcount
        return counters + self._run("DELETE FROM rate_limit_hit").rowcount

    def check(self) -> bool:
        try:
            self._run("SELECT 1")
        except DBAPIError:
            return False
        return True


def purge_expired_limits(session) -> int:
    """Delete counters and hits whose window has passed (they no longer count)."""
    hits = session.execute(text(f"DELETE FROM rate_limit_hit WHERE expires_at <= {NOW}")).rowcount
    counters = session.execute(
        text(f"DELETE FROM rate_limit_counter WHERE expires_at <= {NOW}")
    ).rowcount
    return hits + counters
