"""What each per-request layer costs: `GET /api/events/{id}` over random ids, in-process.

    python bench/request_overhead.py [--requests 3000] [--rounds 5] [--code DIR]

One app, built like production's (rate limits on with the `database://` storage, the access log
at INFO, CORS configured), serves WSGI environs in a loop, without sockets or gunicorn. Each
variant switches off one layer (removes its hook from the app for the variant's requests) and
the table prints app CPU microseconds per request (`time.process_time`, so other processes on a
loaded machine do not count) as the median of --rounds rounds, the variants interleaved in every
round, and what switching the layer off saves. PostgreSQL's CPU is not counted: it runs in
another process. The log lines go to /dev/null (formatting counted, the terminal not).

The bottom rows take the stack away altogether: no hooks at all, then a plain Flask view with
the same body (no flask-smorest decorator), then the view's body alone in an app context (the
SQL round trip, the connection's checkout from the pool and return), the same body on the
request's ORM session as the route ran it before `shop.database.public_read`, the same body
with the statement run by SQLAlchemy's `exec_driver_sql` rather than `shop.database.read_bytes`'s
fast path, and run on psycopg's cursor (`read_value`) rather than handed to libpq (their "saves"
are negative: what each costs more), then a bare psycopg connection running the same statement
on its cursor.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.common import bench_database, environ_for, import_shop_from_code_argument

import_shop_from_code_argument()

from shop.database import libpq_url  # noqa: E402 (after import_shop_from_code_argument)


def event_detail_body(event_id: int) -> bytes:
    """The detail route's body, as the checkout being measured builds it (--code may name a
    checkout from before `public_read`, whose detail ran on the session)."""
    from shop import database
    from shop.catalog import json_bodies
    from shop.extensions import db

    if not hasattr(database, "public_read"):
        return json_bodies.public_event_json(db.session, event_id)
    with database.public_read(db.engine) as connection:
        return json_bodies.public_event_json(connection, event_id)


def build_app(database_url: str):
    os.environ.setdefault("LOG_LEVEL", "INFO")
    from shop import create_app

    app = create_app(
        "development",
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "database://",
            "CORS_ORIGINS": ["https://shop.example"],
        },
    )
    # The log line is formatted as in production, then written nowhere.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
    logging.getLogger().setLevel(logging.INFO)
    from flask import Response

    from shop.catalog.routes import conditional_json

    def plain_event_detail(eventId: int) -> Response:
        return conditional_json(event_detail_body(eventId))

    app.add_url_rule("/plain/events/<int:eventId>", view_func=plain_event_detail)
    return app


def hook_name(function: Callable) -> str:
    inner = getattr(function, "func", function)  # functools.partial (Flask-Limiter)
    return f"{getattr(inner, '__module__', '')}.{getattr(inner, '__qualname__', '')}"


HOOK_LISTS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


@contextlib.contextmanager
def without_hooks(app, *fragments: str) -> Iterator[None]:
    """Take out every request hook whose qualified name contains one of `fragments` ("" = all)."""
    saved = {name: dict(getattr(app, name)) for name in HOOK_LISTS}
    for name in HOOK_LISTS:
        for scope, functions in getattr(app, name).items():
            getattr(app, name)[scope] = [
                f for f in functions if not any(part in hook_name(f) for part in fragments)
            ]
    try:
        yield
    finally:
        for name, lists in saved.items():
            setattr(app, name, lists)


@contextlib.contextmanager
def log_level(level: int) -> Iterator[None]:
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(before)


@contextlib.contextmanager
def counting_statements(app) -> Iterator[list[int]]:
    """Count every statement the app's engine sends (the body's, and any the hooks send).

    Only in an untimed pass: a statement listener makes `shop.database.read_value` take
    SQLAlchemy's slower execution path, so the timed rounds run without one."""
    from sqlalchemy import event

    from shop.extensions import db

    with app.app_context():
        engine = db.engine
    sent = [0]

    def count(*_args) -> None:
        sent[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def serve(app, environs: list[dict]) -> float:
    """CPU seconds per request for serving `environs` through the WSGI app."""
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    started = time.process_time()
    for environ in environs:
        body = app.wsgi_app(dict(environ), start_response)
        for _chunk in body:
            pass
        if hasattr(body, "close"):
            body.close()
    spent = time.process_time() - started
    bad = [s for s in statuses if not s.startswith("200")]
    if bad:
        raise SystemExit(f"unexpected answers: {bad[:3]}")
    return spent / len(environs)


def body_only(app, ids: list[int]) -> float:
    started = time.process_time()
    for event_id in ids:
        with app.app_context():
            event_detail_body(event_id)
    return (time.process_time() - started) / len(ids)


def body_through_the_session(app, ids: list[int]) -> float:
    """The same body on the request's ORM session, as the route ran it before `public_read`:
    a Session, its transaction and its connection, closed at the app context's teardown."""
    from shop import database
    from shop.catalog import json_bodies
    from shop.extensions import db

    started = time.process_time()
    for event_id in ids:
        with app.app_context():
            session = db.session()
            # What `single_statement_reads` did: autocommit on the session's fresh connection.
            driver = database.driver_connection(session)
            driver.autocommit = True
            try:
                json_bodies.public_event_json(session.connection(), event_id)
            finally:
                driver.autocommit = False
    return (time.process_time() - started) / len(ids)


def body_through_sqlalchemy_execution(app, ids: list[int]) -> float:
    """The same body with the statement run by SQLAlchemy's `exec_driver_sql` (execution
    context, cursor result, transaction) instead of `shop.database.read_value`'s fast path, as
    it runs when something listens to statement events."""
    from unittest import mock

    from shop import database

    with mock.patch.object(database, "_statement_events_listened", lambda engine: True):
        return body_only(app, ids)


def body_through_the_cursor(app, ids: list[int]) -> float:
    """The same body with the statement run on psycopg's cursor (`shop.database.read_value`,
    the answer decoded to `str` and encoded again) rather than handed to libpq as a prepared
    statement of our own (`shop.database.read_bytes`)."""
    from unittest import mock

    from shop import database
    from shop.catalog import json_bodies

    def through_the_cursor(connection, sql, values):
        value = database.read_value(connection, sql, values)
        return None if value is None else value.encode()

    with mock.patch.object(json_bodies, "read_bytes", through_the_cursor):
        return body_only(app, ids)


def bare_psycopg(url: str, ids: list[int]) -> float:
    from shop.catalog import json_bodies

    statement = json_bodies._event_sql[0]  # compiled by the app's first request
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        started = time.process_time()
        for event_id in ids:
            conn.execute(statement, {"event_id": event_id}).fetchone()
        return (time.process_time() - started) / len(ids)


def each_hook_alone(app, event_id: int, calls: int) -> list[tuple[str, float]]:
    """CPU microseconds of one call of each registered request hook, in a request context for
    the detail route (the hooks as Flask calls them, through `ensure_sync`)."""
    from flask import Response

    from shop.extensions import db

    figures = []
    with app.test_request_context(f"/api/events/{event_id}"):
        app.preprocess_request()  # what the after hooks read (request id, start time)
        for kind in HOOK_LISTS:
            for function in getattr(app, kind).get(None, []):
                if kind == "after_request_funcs":
                    responses = [Response(b"{}", mimetype="application/json") for _ in range(calls)]
                    started = time.process_time()
                    for response in responses:
                        app.ensure_sync(function)(response)
                else:
                    argument = () if kind == "before_request_funcs" else (None,)
                    started = time.process_time()
                    for _ in range(calls):
                        app.ensure_sync(function)(*argument)
                spent = (time.process_time() - started) / calls * 1e6
                figures.append((f"{kind.split('_')[0]:<8} {hook_name(function)}", spent))
        started = time.process_time()
        for _ in range(calls):
            db.session.connection()
            db.session.remove()
        spent = (time.process_time() - started) / calls * 1e6
        figures.append(("session: check a connection out and return it", spent))
    started = time.process_time()
    for _ in range(calls):
        with app.app_context():
            pass
    spent = (time.process_time() - started) / calls * 1e6
    figures.append(("app context push and pop, session teardown", spent))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--code", type=Path, help="serve another checkout's app")
    args = parser.parse_args()
    url = bench_database(10_000)
    with psycopg.connect(libpq_url(url)) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM event WHERE status <> 'draft'")]
    rng = random.Random(12)
    sample = [rng.choice(ids) for _ in range(args.requests)]
    app = build_app(url)
    api_environs = [environ_for(f"/api/events/{i}") for i in sample]
    plain_environs = [environ_for(f"/plain/events/{i}") for i in sample]
    nothing = contextlib.nullcontext

    variants: list[tuple[str, Callable[[], float]]] = []

    def variant(label: str, context: Callable, environs=api_environs) -> None:
        def run() -> float:
            with context():
                return serve(app, environs)

        variants.append((label, run))

    variant("whole stack as production runs it", nothing)
    variant("  log level WARNING (the benches' setting)", lambda: log_level(logging.WARNING))
    variant("  without the request log hooks", lambda: without_hooks(app, "request_log."))
    variant("  without the rate limiter's hooks", lambda: without_hooks(app, "flask_limiter"))
    variant(
        "  without CORS",
        lambda: without_hooks(app, "flask_cors", "cors_when_there_is_an_origin"),
    )
    variant("  without security headers", lambda: without_hooks(app, "security_headers."))
    variant(
        "  without the body-size and NUL guards",
        lambda: without_hooks(app, "require_small_json_bodies", "refuse_nul_characters"),
    )
    variant("whole stack again (the noise between variants)", nothing)
    variant("no request hooks at all", lambda: without_hooks(app, ""))
    variant(
        "no hooks, plain Flask view (no flask-smorest)",
        lambda: without_hooks(app, ""),
        plain_environs,
    )
    variants.append(("view body alone in an app context", lambda: body_only(app, sample)))
    from shop import database

    if hasattr(database, "public_read"):
        variants.append(
            ("  the same through the ORM session", lambda: body_through_the_session(app, sample))
        )
    if hasattr(database, "read_value"):
        variants.append(
            (
                "  the same through exec_driver_sql",
                lambda: body_through_sqlalchemy_execution(app, sample),
            )
        )
    if hasattr(database, "read_bytes"):
        variants.append(
            ("  the same through psycopg's cursor", lambda: body_through_the_cursor(app, sample))
        )
    variants.append(("bare psycopg, same statement", lambda: bare_psycopg(url, sample)))

    serve(app, api_environs[:200])  # warm up: compile the statement, fill the pool
    figures: dict[str, list[float]] = {label: [] for label, _ in variants}
    statements: dict[str, float] = {}
    for _round in range(args.rounds):
        for label, run in variants:
            figures[label].append(run() * 1e6)
    for label, run in variants:
        with counting_statements(app) as sent:
            run()
        statements[label] = sent[0] / args.requests

    whole = statistics.median(figures[variants[0][0]])
    body = statistics.median(figures["view body alone in an app context"])
    load = os.getloadavg()[0]
    import shop

    print(f"app from {Path(shop.__file__).resolve().parent.parent}")
    print(
        f"GET /api/events/{{id}}, {len(ids)} public ids, {args.requests} requests x"
        f" {args.rounds} rounds per variant, load average {load:.1f}"
    )
    print(f"{'variant':<48} {'CPU us/request':>15} {'(min-max)':>13} {'saves':>7} {'SQL/req':>8}")
    for label, _ in variants:
        values = figures[label]
        median = statistics.median(values)
        reference = body if label.startswith("  the same") else whole
        saves = f"{reference - median:7.0f}" if label.startswith("  ") else ""
        spread = f"({min(values):.0f}-{max(values):.0f})"
        print(f"{label:<48} {median:15.0f} {spread:>13} {saves:>7} {statements[label]:8.2f}")
    print("\neach request hook alone (CPU us per call, median of the rounds)")
    alone: dict[str, list[float]] = {}
    for _round in range(args.rounds):
        for label, spent in each_hook_alone(app, sample[0], args.requests):
            alone.setdefault(label, []).append(spent)
    for label, values in alone.items():
        print(f"  {label:<72} {statistics.median(values):6.1f}")


if __name__ == "__main__":
    main()
