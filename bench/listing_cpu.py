"""Why the listing's app CPU per request grows with the catalogue: in-process figures.

    python bench/listing_cpu.py [--requests 1500] [--rounds 3] [--code DIR]

Two apps built like the benches' (development config, rate limits off, log at WARNING), one on
the 10 000-event and one on the 100 000-event bench database, serve the same URLs of the
browse, search and detail mixes (bench/mixes.py) as WSGI environs in a loop, without sockets or
gunicorn, the workloads interleaved in every round. Printed per workload and catalogue:

- CPU µs per request of this process (`time.process_time`: other processes do not count), and
  the wall time (what it waited for PostgreSQL is the difference, roughly);
- Python function calls per request (cProfile, one untimed pass): the app's work, counted
  exactly. The same URLs make the same calls on both catalogues;
- the same again with every listing statement answered at once ("instant"): each request
  runs the same Python and psycopg work (its parameters sent, the same body received) but the
  statement is `SELECT <the body>`, which PostgreSQL answers without work. The difference
  with the real run is what the worker's CPU pays for waiting on PostgreSQL;
- the listing statements of both mixes that run without a `SET` around them, alone on one
  pooled connection: CPU µs per statement through psycopg's cursor (`read_value`) and through
  libpq (`read_bytes`, what the listing route uses);
- then the same Python work (a fixed loop) around a statement that makes the worker wait a
  given time without PostgreSQL doing anything (`SELECT pg_sleep(x)`): the worker's CPU per
  iteration against how long it waited.

What it showed (2-vCPU KVM guest shared with other benchmarks, load 1-4): the same calls per
request on both catalogues, yet more CPU per request on the larger one, where PostgreSQL takes
longer (browse 282 -> 319 µs, search 276 -> 365); answered at once, the same requests cost the
same on both (205 and 216, 190 and 191); and the fixed loop's CPU grows with the wait alone
(65 -> 126 µs from no wait to 1.5 ms). A worker that blocks on its socket comes back to caches
and branch predictors that other processes used meanwhile, and the longer the wait, the colder
they are. It is the machine's cost of waiting, paid in the worker's CPU, not work the app does
per event: it shrinks with PostgreSQL's time per request and with the round trips per request.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.common import bench_database, environ_for, import_shop_from_code_argument, python_env

import_shop_from_code_argument()
os.environ.update(python_env())  # rate limits off, log at WARNING: before `shop` reads them

from bench.mixes import browse_paths, detail_paths, public_event_ids, search_paths  # noqa: E402 (after import_shop_from_code_argument)

CATALOGUES = (10_000, 100_000)


def serve(app, environs: list[dict]) -> tuple[float, float]:
    """CPU and wall µs per request for serving `environs` through the WSGI app."""
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    cpu, wall = time.process_time(), time.perf_counter()
    for environ in environs:
        body = app.wsgi_app(dict(environ), start_response)
        for _chunk in body:
            pass
        if hasattr(body, "close"):
            body.close()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    bad = [s for s in statuses if not s.startswith("200")]
    if bad:
        raise SystemExit(f"unexpected answers: {bad[:3]}")
    return cpu / len(environs) * 1e6, wall / len(environs) * 1e6


def calls_per_request(app, environs: list[dict]) -> float:
    profile = cProfile.Profile()
    profile.enable()
    serve(app, environs)
    profile.disable()
    return pstats.Stats(profile).total_calls / len(environs)  # type: ignore[attr-defined]


# Bodies of the listing statements, by database, statement and values (answered_at_once).
_bodies: dict[tuple, str | bytes] = {}


@contextlib.contextmanager
def answered_at_once() -> Iterator[None]:
    """Every listing statement replaced by one that returns the same body at once (computed by
    the real statement the first time its values are seen on that database, during the
    warm-up), with the same parameters, sent the same way (`read_bytes` or `read_value`,
    whichever the checkout's listing calls). Statements without parameters (SET) run as they
    are."""
    from shop.catalog import json_bodies
    from shop.database import numbered_placeholders

    echo_sql: dict[str, str] = {}

    def answering_at_once(real):
        def read(connection, sql, values, **kwargs):
            names = numbered_placeholders(sql)[1]
            if not names:
                return real(connection, sql, values, **kwargs)
            key = (connection.engine.url.database, sql, tuple(sorted(values.items())))
            if key not in _bodies:
                _bodies[key] = real(connection, sql, values, **kwargs)
            if sql not in echo_sql:
                used = ", ".join(f"%({name})s::text" for name in names)
                echo_sql[sql] = f"SELECT %(echo_body)s::text WHERE num_nulls({used}) >= 0"
            body = _bodies[key]
            echo = body.decode() if isinstance(body, bytes) else body
            return real(connection, echo_sql[sql], {**values, "echo_body": echo}, **kwargs)

        return read

    patched = [name for name in ("read_value", "read_bytes") if hasattr(json_bodies, name)]
    real = {name: getattr(json_bodies, name) for name in patched}
    for name in patched:
        setattr(json_bodies, name, answering_at_once(real[name]))
    try:
        yield
    finally:
        for name in patched:
            setattr(json_bodies, name, real[name])


def listing_statements(app, paths: list[str]) -> list[tuple[str, dict]]:
    """The SQL and values the listing route sends for `paths`, those it sends alone (no `SET`
    around them: a search, or a listing planned once)."""
    from flask import request

    from shop.catalog import json_bodies
    from shop.catalog.schemas import EventQuerySchema
    from shop.extensions import db
    from shop.openapi import Blueprint
    from shop.services import catalog

    schema = EventQuerySchema()
    statements = []
    for path in paths:
        with app.test_request_context(path):
            arguments = Blueprint.ARGUMENTS_PARSER.parse(schema, request, location="query")
            page, page_size = arguments.pop("page"), arguments.pop("page_size")
            filters = catalog.EventFilters(**arguments)
            if filters.q or catalog.planned_once(filters):
                sql, values = json_bodies.listing_sql(filters, page, page_size, db.engine.dialect)
                statements.append((sql, values))
    return statements


def statement_alone(app, statements: list[tuple[str, dict]], rounds: int) -> dict[str, float]:
    """CPU µs per listing statement, run on one pooled connection by `read_value` (psycopg's
    cursor, the answer decoded to `str` and encoded again) and by `read_bytes` (libpq, the
    answer's bytes), interleaved rounds."""
    from shop import database
    from shop.extensions import db

    ways = {"psycopg's cursor (read_value)": lambda c, sql, v: database.read_value(c, sql, v)}
    if hasattr(database, "read_bytes"):
        ways["libpq (read_bytes)"] = database.read_bytes
    figures: dict[str, list[float]] = {way: [] for way in ways}
    with app.app_context(), database.public_read(db.engine) as connection:
        for read in ways.values():  # warm up: prepare every statement
            for sql, values in statements:
                read(connection, sql, values)
        for _round in range(rounds):
            for way, read in ways.items():
                started = time.process_time()
                for sql, values in statements:
                    read(connection, sql, values)
                spent = time.process_time() - started
                figures[way].append(spent / len(statements) * 1e6)
    return {way: statistics.median(values) for way, values in figures.items()}


def fixed_work() -> int:
    table = {}
    for n in range(600):
        table[str(n)] = n * 2
    return sum(table.values())


def work_around_waits(url: str, waits_ms: list[float], iterations: int, rounds: int) -> dict:
    """CPU µs per iteration of `fixed_work` + one statement that waits `wait` ms."""
    figures: dict[float, list[float]] = {wait: [] for wait in waits_ms}
    with psycopg.connect(url, autocommit=True) as conn:
        for _round in range(rounds):
            for wait in waits_ms:
                statement = f"SELECT pg_sleep({wait / 1000})"
                started = time.process_time()
                for _ in range(iterations):
                    fixed_work()
                    conn.execute(statement, prepare=False).fetchone()
                figures[wait].append((time.process_time() - started) / iterations * 1e6)
    return {wait: statistics.median(values) for wait, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1500, help="URLs per mix")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--code", type=Path, help="serve another checkout's app")
    args = parser.parse_args()
    from shop import create_app
    from shop.database import libpq_url

    urls = {events: bench_database(events) for events in CATALOGUES}
    public: list[set[int]] = []
    for url in urls.values():
        with psycopg.connect(libpq_url(url)) as conn:
            public.append(set(public_event_ids(conn)))
    ids = sorted(set.intersection(*public))  # the same URLs on both catalogues
    mixes = {
        "browse": browse_paths(args.requests),
        "search": search_paths(args.requests),
        "detail": detail_paths(ids, args.requests),
    }
    environs = {name: [environ_for(path) for path in paths] for name, paths in mixes.items()}
    apps = {
        events: create_app("development", {"SQLALCHEMY_DATABASE_URI": url})
        for events, url in urls.items()
    }
    listings = [name for name in mixes if name != "detail"]
    for app in apps.values():  # warm up: compile the statements, fill the pools
        for requests in environs.values():
            serve(app, requests[:200])
        with answered_at_once():  # (and compute every body once)
            for name in listings:
                serve(app, environs[name])
    figures: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _round in range(args.rounds):
        for events, app in apps.items():
            for name, requests in environs.items():
                figures.setdefault((name, events), []).append(serve(app, requests))
            with answered_at_once():
                for name in listings:
                    instant = serve(app, environs[name])
                    figures.setdefault((f"{name} (instant)", events), []).append(instant)
    calls = {
        (name, events): calls_per_request(app, requests[:300])
        for events, app in apps.items()
        for name, requests in environs.items()
    }
    for events, app in apps.items():
        with answered_at_once():
            for name in listings:
                calls[(f"{name} (instant)", events)] = calls_per_request(app, environs[name][:300])
    import shop

    print(f"app from {Path(shop.__file__).resolve().parent.parent}")
    print(f"{args.requests} URLs per mix x {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    print(f"{'mix':<18} {'events':>8} {'CPU us/req':>11} {'wall us/req':>12} {'calls/req':>10}")
    for (name, events), values in sorted(figures.items()):
        cpu = statistics.median(value[0] for value in values)
        wall = statistics.median(value[1] for value in values)
        print(f"{name:<18} {events:>8} {cpu:11.0f} {wall:12.0f} {calls[(name, events)]:10.0f}")
    app = apps[CATALOGUES[0]]
    statements = listing_statements(app, mixes["browse"] + mixes["search"])
    print(f"\nthe statement alone: {len(statements)} listing statements of the browse and search")
    print(f"mixes sent alone (no SET around them), {CATALOGUES[0]} events, CPU us per statement")
    for way, cpu in statement_alone(app, statements, args.rounds).items():
        print(f"  {way:<32} {cpu:5.0f}")
    waits = work_around_waits(libpq_url(urls[CATALOGUES[0]]), [0, 0.5, 1.5, 3], 1000, args.rounds)
    print("\nthe same Python work around a wait for PostgreSQL (SELECT pg_sleep)")
    for wait, cpu in waits.items():
        print(f"  wait {wait:3.1f} ms: CPU {cpu:5.0f} us per iteration")
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
