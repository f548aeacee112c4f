"""shop: the JSON API of an events ticket shop.

`create_app()` builds the application as a list of `register_*` steps, so each concern
(database, errors, logging, blueprints, commands) is set up in one place.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix

from config import get_config
from shop.services.errors import ValidationFailed

__all__ = ["create_app"]


class SchemaOrderJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with object keys in the order they were built (a schema's field order: `id`
    first, `amount` before `currency`) rather than alphabetised. Since Flask 2.3 the provider
    decides this; the old `JSON_SORT_KEYS` setting is ignored."""

    sort_keys = False


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Application factory. `config_name` is development, testing or production."""
    app = Flask(__name__, instance_path=os.environ.get("SHOP_INSTANCE_PATH") or None)
    app.json = SchemaOrderJSONProvider(app)
    config_class = get_config(config_name)
    config_class.validate()
    app.config.from_object(config_class)
    app.config.update(overrides or {})

    register_logging(app)
    register_secret(app)
    register_database(app)
    register_extensions(app)
    register_error_handlers(app)
    register_request_guards(app)
    register_blueprints(app)
    register_commands(app)
    return app


def register_logging(app: Flask) -> None:
    from shop.request_log import configure_logging, register_request_logging

    configure_logging(app.config["LOG_LEVEL"])
    register_request_logging(app)


def register_secret(app: Flask) -> None:
    from shop.secrets import configure_jwt_secret

    configure_jwt_secret(app)


def register_database(app: Flask) -> None:
    from shop.database import resolve_database_url

    if "SQLALCHEMY_DATABASE_URI" not in app.config:
        app.config["SQLALCHEMY_DATABASE_URI"] = resolve_database_url(
            app.config["DATABASE_URL"], app.instance_path, app.config["EMBEDDED_DATABASE_NAME"]
        )
    # Every lock wait on every connection is bounded (shop/services/locking.py): set once per
    # connection rather than with a `SET LOCAL` statement in each transaction.
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    connect_args = dict(options.get("connect_args", {}))
    lock_timeout = f"-c lock_timeout={int(app.config['CHECKOUT_LOCK_TIMEOUT_MS'])}"
    connect_args["options"] = " ".join(filter(None, [connect_args.get("options"), lock_timeout]))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "connect_args": connect_args}


def register_extensions(app: Flask) -> None:
    from shop.extensions import api, db, jwt, limiter, migrate
    from shop.services import passwords

    passwords.configure(
        app.config["ARGON2_TIME_COST"],
        app.config["ARGON2_MEMORY_KIB"],
        app.config["ARGON2_PARALLELISM"],
    )
    passwords.bound_concurrency(app.config["PASSWORD_HASH_SLOTS"], app.instance_path)
    # Only the configured number of proxy hops may tell us the client's address and scheme
    # (PROXY_FIX_X_FOR: 0 locally, 1 behind Render's load balancer).
    hops = app.config["PROXY_FIX_X_FOR"]
    if hops:
        # Wrapping `wsgi_app` is how Flask documents middleware; mypy sees a method replaced.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    db.init_app(app)
    from shop.database import ping_idle_connections

    with app.app_context():
        ping_idle_connections(db.engine, app.config["DB_PING_AFTER_IDLE_SECONDS"])
    migrate.init_app(
        app,
        db,
        directory=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "migrations")),
    )
    jwt.init_app(app)
    from shop.auth.tokens import init_jwt

    init_jwt(jwt)
    limiter.init_app(app)
    if app.config["CORS_ORIGINS"]:
        register_cors(app)
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )


def register_cors(app: Flask) -> None:
    """CORS headers for the configured browser origins (CORS_ORIGINS).

    Only when there are some: with none, flask-cors would still run its after-request hook on
    every answer (~10-20 µs of CPU, bench/request_overhead.py) to add nothing."""
    from shop.extensions import cors

    cors.init_app(
        app,
        resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        # Browsers may reuse a preflight answer for 10 minutes instead of asking before every call.
        max_age=app.config["CORS_MAX_AGE_SECONDS"],
        expose_headers=["X-Request-ID", "X-Cart-Token", "Idempotent-Replayed", "Retry-After"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Cart-Token",
            "Idempotency-Key",
            "X-Request-ID",
        ],
        # CORS headers only answer a browser's cross-origin request, which always says its
        # Origin. Without one (curl, servers, same-origin pages) there is nothing to allow;
        # flask-cors would otherwise send the configured origins to everyone.
        always_send=False,
    )
    # Fast path: flask-cors's after-request hook matches the path against its resources and
    # reads the options on every answer (~11 µs of CPU, bench/request_overhead.py), although
    # with `always_send=False` it adds nothing to an answer for a request without an Origin.
    # So the hook it just registered (the last one) is called only when there is an Origin.
    hooks = app.after_request_funcs[None]
    flask_cors_hook: Any = hooks[-1]  # (Flask types its hooks as sync or async)
    if not flask_cors_hook.__module__.startswith("flask_cors"):
        raise RuntimeError("flask-cors no longer registers its hook last: see register_cors")

    def cors_when_there_is_an_origin(response: Response) -> Response:
        if "HTTP_ORIGIN" not in request.environ:
            return response
        return flask_cors_hook(response)

    hooks[-1] = cors_when_there_is_an_origin


def register_error_handlers(app: Flask) -> None:
    from shop.errors import register_error_handlers as register

    register(app)


def register_request_guards(app: Flask) -> None:
    @app.before_request
    def require_small_json_bodies() -> None:
        # Refuse an oversized body before routing or parsing looks at it. A chunked body has no
        # Content-Length: werkzeug stops reading it at the limit, so a body that fills the
        # limit is one that did not fit.
        if not has_body():
            return  # a GET or a DELETE: nothing to check (this runs on every request)
        limit = app.config["MAX_CONTENT_LENGTH"]
        if request.content_length and request.content_length > limit:
            raise RequestEntityTooLarge()
        chunked = request.content_length is None
        if chunked and len(request.get_data(cache=True)) >= limit:
            raise RequestEntityTooLarge()
        # A body that is not JSON would otherwise read as "no fields" and answer a confusing 422.
        if request.method in {"POST", "PUT", "PATCH"} and not request.is_json:
            raise UnsupportedMediaType()

    @app.before_request
    def refuse_nul_characters() -> None:
        # PostgreSQL text cannot hold NUL (U+0000); no real input contains it. Refuse it up front
        # instead of letting the driver fail deep inside a query.
        data = request.get_data(cache=True) if has_body() else b""
        # A NUL reaches a decoded query value only from `%00` or a raw NUL in the query string:
        # a query without either (every catalogue URL) is not decoded here just to look.
        query = request.environ.get("QUERY_STRING", "")
        in_query = ("%00" in query or "\x00" in query) and any(
            "\x00" in value for value in request.args.values()
        )
        if in_query or "\x00" in request.path or b"\x00" in data or b"\\u0000" in data:
            raise ValidationFailed(
                "Text may not contain NUL characters (U+0000). Remove them and try again.",
                errors={"_request": ["Contains a NUL character."]},
            )

    from shop.security_headers import register_security_headers

    register_security_headers(app)


def has_body() -> bool:
    """Whether the request carries a body: by Content-Length, or chunked (no length up front)."""
    environ = request.environ
    transfer_encoding = environ.get("HTTP_TRANSFER_ENCODING")
    if not transfer_encoding and not environ.get("CONTENT_LENGTH"):
        return False  # neither header (every GET): no need to parse them (runs twice a request)
    chunked = "chunked" in (transfer_encoding or "").lower()
    return bool(request.content_length) or chunked


def register_blueprints(app: Flask) -> None:
    from shop import admin, auth, cart, catalog, orders
    from shop.extensions import api
    from shop.health import blp as health_blp
    from shop.openapi import register_docs_routes

    for blueprint in (
        health_blp,
        *catalog.blueprints,
        *auth.blueprints,
        *cart.blueprints,
        *orders.blueprints,
        *admin.blueprints,
    ):
        api.register_blueprint(blueprint)
    register_docs_routes(app)


def register_commands(app: Flask) -> None:
    from shop.commands import register_commands as register

    register(app)
