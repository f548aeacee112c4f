"""Configuration classes, read from the environment (and `.env`).

`create_app()` picks one by `FLASK_ENV`-like name: "development" (default), "testing" or
"production". Values that must never have a default in production (the JWT secret, the database
URL) are checked by `ProductionConfig.validate()`, which refuses to start rather than run with a
guessable secret.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta

from dotenv import load_dotenv

load_dotenv()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


class ConfigError(RuntimeError):
    """The environment is missing something the app refuses to run without."""


# Values that have appeared in this repository, its docs or examples: anyone can sign tokens
# with them, so no environment accepts them.
PUBLISHED_SECRETS = frozenset(
    {
        "dev-only-secret-not-for-production-0123456789",
        "test-secret-key-that-is-long-enough-for-hs256",
        "bench-secret-that-is-long-enough-for-hs256-signing",
        "at-least-32-random-characters-in-production",
    }
)
SECRET_HELP = "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def weak_secret_reason(secret: str) -> str | None:
    """Why `secret` is unfit to sign tokens in production, or None when it is fine."""
    if secret in PUBLISHED_SECRETS:
        return "it is a published example value"
    if len(secret) < 32:
        return "it is shorter than 32 characters"
    if len(set(secret)) < 16:
        return "it has fewer than 16 distinct characters (not random)"
    return None


def is_local_database(url: str) -> bool:
    """Whether a database URL points at this machine (a unix socket or a loopback host)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    host = parsed.host or parsed.query.get("host") or ""
    if isinstance(host, tuple):
        host = host[0]
    return host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    # `flask seed` and `flask provision` VACUUM ANALYZE the catalogue after loading it.
    VACUUM_AFTER_SEED = True
    # None means "no DATABASE_URL": development and tests then run on the embedded PostgreSQL.
    DATABASE_URL = os.environ.get("DATABASE_URL") or None
    EMBEDDED_DATABASE_NAME = "shop"
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_size": env_int("DB_POOL_SIZE", 5),
        "max_overflow": env_int("DB_MAX_OVERFLOW", 5),
        "pool_timeout": 5,
        # Sessions in UTC: times leave the API as `+00:00` whichever default the server has
        # (the catalogue's JSON is written by PostgreSQL in UTC, the rest by marshmallow).
        "connect_args": {"connect_timeout": 5, "options": "-c timezone=UTC"},
        # Errors and logs never show statement parameters (a user's email, a password hash).
        "hide_parameters": True,
    }
    SQLALCHEMY_RECORD_QUERIES = False
    # A pooled connection idle this long is pinged before use, so a restarted database is
    # noticed instead of failing a request (shop.database.ping_idle_connections); 0: always.
    DB_PING_AFTER_IDLE_SECONDS = float(os.environ.get("DB_PING_AFTER_IDLE_SECONDS", "1"))

    JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY") or None
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=env_int("JWT_REFRESH_DAYS", 14))
    JWT_ALGORITHM = "HS256"
    JWT_DECODE_ALGORITHMS = ["HS256"]
    JWT_TOKEN_LOCATION = ["headers"]

    # Argon2id cost: argon2-cffi's recommended profile (RFC 9106 low-memory).
    ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_KIB = env_int("ARGON2_MEMORY_KIB", 65536)
    ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 4)
    # Password hashes allowed at once per instance (across its workers); 0 = unbounded. One hash
    # takes a worker for ~0.15-0.5 s, so a login flood from many addresses can occupy every
    # worker. Set it to WEB_CONCURRENCY - 1 to keep a worker free for everything else: logins
    # beyond it answer 503 with Retry-After: 1 at once (measured in bench/abuse.py).
    PASSWORD_HASH_SLOTS = env_int("PASSWORD_HASH_SLOTS", 0)

    CORS_ORIGINS = env_list("CORS_ORIGINS")
    CORS_MAX_AGE_SECONDS = env_int("CORS_MAX_AGE_SECONDS", 600)
    # Strict-Transport-Security max-age; only production serves over HTTPS (Render's TLS).
    HSTS_SECONDS = 0

    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    # Counters shared by every worker and instance: `database://` is the app's own PostgreSQL
    # (shop/ratelimit.py); `redis://host:6379/0` uses Redis. `memory://` is per process.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "database://")
    # Signup and login per client address.
    RATELIMIT_AUTH = os.environ.get("RATELIMIT_AUTH", "10 per minute;100 per hour")
    # Failed logins per account, from any address (credential stuffing).
    RATELIMIT_LOGIN_ACCOUNT = os.environ.get("RATELIMIT_LOGIN_ACCOUNT", "5 per minute;20 per hour")
    # How many proxies in front of us set X-Forwarded-For/-Proto: 0 trusts no such header (a
    # client could otherwise pick its own address and dodge every per-address limit); Render's
    # load balancer is 1 (render.yaml).
    PROXY_FIX_X_FOR = env_int("PROXY_FIX_X_FOR", 0)
    RATELIMIT_HEADERS_ENABLED = True
    # A moving window: "10 per minute" means any 60 seconds, with no burst at a window edge.
    RATELIMIT_STRATEGY = "moving-window"

    # Seat holds: how long a cart holds its seats, and how often changes may renew the hold.
    CART_HOLD_MINUTES = env_int("CART_HOLD_MINUTES", 15)
    CART_HOLD_MAX_RENEWALS = env_int("CART_HOLD_MAX_RENEWALS", 8)
    # Holds are scarce (business rules, on even with RATELIMIT_ENABLED=false): a hold lives at
    # most this long from the cart's first hold, whatever changes are made; a cart has at most
    # this many lines; one client address holds at most this many seats across its guest carts.
    CART_HOLD_MAX_MINUTES = env_int("CART_HOLD_MAX_MINUTES", 60)
    CART_MAX_LINES = env_int("CART_MAX_LINES", 20)
    CART_MAX_SEATS_PER_ADDRESS = env_int("CART_MAX_SEATS_PER_ADDRESS", 20)
    # New guest carts per client address (a rate limit: off with RATELIMIT_ENABLED=false).
    RATELIMIT_GUEST_CARTS = os.environ.get("RATELIMIT_GUEST_CARTS", "10 per minute;60 per hour")
    # Checkout never waits longer than this for a row lock; contention becomes a 503 to retry.
    CHECKOUT_LOCK_TIMEOUT_MS = env_int("CHECKOUT_LOCK_TIMEOUT_MS", 3000)

    MAX_CONTENT_LENGTH = 64 * 1024  # no request body of ours needs more
    # Threads per gunicorn worker that run Flask code (shop/asgi.py); 1 behaves like a sync worker.
    APP_THREADS = env_int("APP_THREADS", 0)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    API_TITLE = "shop"
    API_SPEC_OPTIONS = {
        "info": {
            "description": (
                "The JSON API of an events ticket shop. All routes live under `/api`; keys are"
                ' camelCase. One resource comes as `{"data": {...}}`, a list as'
                ' `{"data": [...], "meta": {page, pageSize, totalItems, totalPages}}`.'
                ' Money is `{"amount": "250.00", "currency": "DKK"}`. Every error is an'
                " RFC 9457 problem (`application/problem+json`) whose `detail` says what to do."
                " Signed-in routes take `Authorization: Bearer <accessToken>` (Authorize button)."
                " The guide for API users is docs/api.md in the repository."
            ),
            "license": {"name": "MIT", "url": "https://spdx.org/licenses/MIT.html"},
        },
        # Relative: the document describes the server that serves it, wherever it runs.
        "servers": [{"url": "/", "description": "The server this document was fetched from"}],
    }
    API_VERSION = "1.0.0"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"  # served from the flask-swagger-ui wheel, no CDN
    OPENAPI_SWAGGER_UI_CONFIG = {"persistAuthorization": True, "displayRequestDuration": True}

    JSON_SORT_KEYS = False

    @classmethod
    def validate(cls) -> None:
        """Refuse to start with settings that would be unsafe in this environment."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    # Without JWT_SECRET_KEY, the app factory generates a random secret once per instance folder
    # and keeps it in `instance/jwt-secret` (shop/secrets.py): nothing usable is published.

    @classmethod
    def validate(cls) -> None:
        """Development against a remote database is almost always a missing SHOP_ENV (a
        deployment that forgot it would run with debug settings): refuse unless it is asked
        for explicitly, and then say so loudly."""
        if not cls.DATABASE_URL or is_local_database(cls.DATABASE_URL):
            return
        if not os.environ.get("SHOP_ENV"):
            raise ConfigError(
                "DATABASE_URL points at a remote database but SHOP_ENV is not set. Set"
                " SHOP_ENV=production for a deployment, or SHOP_ENV=development to develop"
                " against that database on purpose."
            )
        logging.getLogger(__name__).warning(
            "Running the DEVELOPMENT configuration against a remote database (%s).",
            cls.DATABASE_URL.split("@")[-1],
        )


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None
    EMBEDDED_DATABASE_NAME = "shop_test"
    # A fresh random secret for every test run: tests mint their tokens through the app.
    JWT_SECRET_KEY = secrets.token_urlsafe(48)
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    # Cheap hashing keeps a suite that signs up hundreds of users fast; the algorithm is the same.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 1024
    ARGON2_PARALLELISM = 1
    # Every test runs inside one transaction on one connection, where VACUUM cannot run.
    VACUUM_AFTER_SEED = False


class ProductionConfig(Config):
    ENV_NAME = "production"
    HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000)

    @classmethod
    def validate(cls) -> None:
        missing = [name for name in ("DATABASE_URL", "JWT_SECRET_KEY") if not getattr(cls, name)]
        if missing:
            raise ConfigError(
                f"Production needs {', '.join(missing)} in the environment; refusing to start."
            )
        reason = weak_secret_reason(cls.JWT_SECRET_KEY)
        if reason:
            raise ConfigError(
                f"JWT_SECRET_KEY is not fit for production: {reason}. It must be at least 32"
                f" random characters. {SECRET_HELP}"
            )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name: str | None = None) -> type[Config]:
    """The config class named by `name`, or by the `SHOP_ENV` variable (default development)."""
    name = (name or os.environ.get("SHOP_ENV") or "development").lower()
    if name not in CONFIGS:
        raise ConfigError(f"Unknown SHOP_ENV {name!r}; use one of {', '.join(CONFIGS)}.")
    return CONFIGS[name]
