"""A bare Flask + psycopg app for the floor bench (bench/floor.py): the least a Python app on this
stack can do to answer the catalogue's listing URLs.

    FLOOR_DATABASE_URL=postgresql://... gunicorn -c gunicorn.conf.py --worker-class sync \
        bench.floor_app:app

No flask-smorest, no request hooks, no rate limiter, no ETag, no SQLAlchemy engine or pool:

- `GET /api/events?...` reads the query string by hand (`bench.floor_sql.listing_arguments`),
  runs the very statement the shop sends for that URL (`bench.floor_sql.listing_statement`,
  with `SET`/`RESET plan_cache_mode` around it where the shop has them) and answers with the
  bytes PostgreSQL sent;
- `GET /page?page=N` runs a trivial page statement instead: 20 upcoming events by the start-time
  index, no count, no seats left (the issue's "bare Flask + psycopg page query" reference);
- `GET /body?bytes=N` sends N bytes without asking PostgreSQL anything: what the stack costs
  for a body the size of a listing's, before any SQL.

Each worker keeps one psycopg connection (a sync worker serves one request at a time), in
autocommit, and sends each statement to libpq as a named prepared statement, prepared on its
first use: the cheapest way psycopg offers to run a statement, and the way the shop's event
detail runs (`shop.database.read_bytes`). The shop's listing runs on psycopg's cursor, which
prepares a statement from its 5th run on a connection: the same plans once warm.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import psycopg
from flask import Flask, Response, request
from psycopg import pq

from bench.floor_sql import listing_statement

# A page of 20 upcoming events in start order (the index on (starts_at, id) of published
# events), written as JSON by PostgreSQL: no count, no seats left, no venue or category.
TRIVIAL_PAGE = (
    b"SELECT coalesce(json_agg(e), '[]')::text FROM ("
    b"SELECT id, title, starts_at, price_from FROM event"
    b" WHERE status = 'published' AND starts_at >= now()"
    b" ORDER BY starts_at, id LIMIT 20 OFFSET $1::integer) e"
)
CUSTOM_PLANS_ON = b"SET plan_cache_mode = force_custom_plan"
CUSTOM_PLANS_OFF = b"RESET plan_cache_mode"

app = Flask(__name__)
_connection: list[psycopg.Connection] = []  # this worker's, opened on its first request
_prepared: dict[bytes, bytes] = {}  # SQL -> its prepared statement's name, on this connection


def pgconn() -> pq.abc.PGconn:
    """This worker's libpq connection (opened after gunicorn forked the worker)."""
    if not _connection:
        _connection.append(psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True))
    return _connection[0].pgconn


def run(sql: bytes, parameters: list[Any]) -> bytes:
    """The first value of the first row of `sql` (`$n` placeholders), as PostgreSQL's bytes."""
    conn = pgconn()
    name = _prepared.get(sql)
    if name is None:
        name = b"floor_%d" % len(_prepared)
        checked(conn.prepare(name, sql))
        _prepared[sql] = name
    texts = [None if value is None else str(value).encode() for value in parameters]
    result = checked(conn.exec_prepared(name, texts))
    return result.get_value(0, 0) or b""


def checked(result: pq.abc.PGresult) -> pq.abc.PGresult:
    if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise RuntimeError(result.error_message.decode())
    return result


@app.get("/")
def ready():
    return "ok"


@app.get("/api/events")
def listing():
    statement = listing_statement(request.args)
    sql, parameters = statement.numbered()
    if not statement.custom_plan:
        return Response(run(sql, parameters), mimetype="application/json")
    checked(pgconn().exec_(CUSTOM_PLANS_ON))
    body = run(sql, parameters)
    checked(pgconn().exec_(CUSTOM_PLANS_OFF))
    return Response(body, mimetype="application/json")


@app.get("/body")
def body_only():
    return Response(_body(int(request.args["bytes"])), mimetype="application/json")


@functools.lru_cache(maxsize=4)
def _body(size: int) -> bytes:
    return b'{"data" : "' + b"x" * max(0, size - 14) + b'"}'


@app.get("/page")
def trivial_page():
    offset = (int(request.args.get("page", 1)) - 1) * 20
    return Response(run(TRIVIAL_PAGE, [offset]), mimetype="application/json")
