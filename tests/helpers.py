"""Assertions and helpers shared by the test modules."""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql as pgsql

from shop import create_app
from shop.database import libpq_url, recreate_database, with_database
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


# Why a test that starts, stops or shares the embedded server is skipped on TEST_DATABASE_URL.
EMBEDDED_ONLY = "needs the embedded PostgreSQL, which TEST_DATABASE_URL replaces"


def database_name(url: str) -> str:
    """The database a URL names: `shop_test` for `postgresql+psycopg://…/shop_test?host=…`."""
    return urlsplit(libpq_url(url)).path.lstrip("/")


@contextmanager
def scratch_database(database_url: str, purpose: str) -> Iterator[str]:
    """A database of its own beside the test database (`shop_test` → `shop_<purpose>_test`, so
    its name ends in _test too), created empty and dropped afterwards, whatever happens.

    Creating a database needs the CREATEDB privilege: a role that only owns the test database
    (README: "Tests on your own PostgreSQL") skips the test, saying so."""
    connection_url = libpq_url(database_url)
    name = database_name(database_url).removesuffix("_test") + f"_{purpose}_test"
    with psycopg.connect(connection_url, autocommit=True) as conn:
        role, may_create = conn.execute(
            "SELECT rolname, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    if not may_create:
        pytest.skip(
            f"needs a role with CREATEDB to create the scratch database {name}: role {role} of"
            " TEST_DATABASE_URL has not got it (ALTER ROLE ... CREATEDB to run this test)"
        )
    # Connected to the test database: CREATE/DROP DATABASE may run from any other database, and a
    # role that owns only its test database may not be allowed to connect to `postgres`.
    recreate_database(connection_url, name)
    try:
        yield with_database(database_url, name)
    finally:
        with psycopg.connect(connection_url, autocommit=True) as conn:
            conn.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
            )


@contextmanager
def meanwhile(app, after_statement: str, change) -> Iterator[list]:
    """Run `change()` in another thread (its own connection and transaction, committed) right
    after the first SQL statement that contains `after_statement`, while the request that sent
    it waits: a concurrent change landing at exactly that moment. Yields a list that holds
    `change()`'s result once it ran."""
    from sqlalchemy import event

    from shop.extensions import db

    outcome: list = []
    fired: list = []

    def run_change(conn, cursor, statement, parameters, context, executemany):
        if fired or after_statement not in statement:
            return
        fired.append(True)  # once, and never for the change's own statements
        worker = threading.Thread(target=lambda: outcome.append(change()))
        worker.start()
        worker.join(timeout=10)
        assert outcome, "the concurrent change did not finish"

    with app.app_context():
        engine = db.engine
    event.listen(engine, "after_cursor_execute", run_change)
    try:
        yield outcome
    finally:
        event.remove(engine, "after_cursor_execute", run_change)


def lapsed_carts(make, auth, rng, scarce, roomy, count):
    """`count` signed-in buyers, each with a lapsed cart of two lines (one or two seats each)
    on two of the `scarce` tiers, and the tier each will add one ticket of: every other buyer
    the `roomy` one (so the add itself succeeds and the re-check decides what is held), the
    others a scarce one. Together the lapsed lines ask for about twice the scarce seats, so
    most re-checks must cap or drop lines, often both of a cart's lines."""
    buyers = []
    for i in range(count):
        user = make.user()
        lines = rng.sample(scarce, 2)
        make.cart([(tier, rng.randint(1, 2)) for tier in lines], user=user, hold_minutes=-1)
        buyers.append((auth.headers(user), roomy.id if i % 2 else rng.choice(scarce).id))
    return buyers


# Whether a session of the test database waits for a lock (the request, in lock_taken_meanwhile).
WAITING_FOR_A_LOCK_SQL = (
    "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE NOT l.granted AND a.datname = current_database())"
)


@contextmanager
def lock_taken_meanwhile(app, after_statement: str, lock_sql: str, change_sql: str, **params):
    """Right after the first SQL statement that contains `after_statement`, another transaction
    (its own connection) takes a row lock with `lock_sql`, and the request goes on to wait for
    that lock; once it waits, the other transaction runs `change_sql` and commits, releasing the
    lock. A change committed by the lock's previous owner while the request waited for it. Yields
    a list that holds True once the change committed."""
    from sqlalchemy import event, text

    from shop.extensions import db

    with app.app_context():
        engine = db.engine
    waiting_for_a_lock = text(WAITING_FOR_A_LOCK_SQL)
    locked = threading.Event()
    committed: list = []

    def lock_then_change():
        with engine.connect() as owner, engine.connect() as watcher:
            owner.execute(text(lock_sql), params)
            locked.set()
            deadline = time.monotonic() + 10
            while not watcher.execute(waiting_for_a_lock).scalar():
                watcher.rollback()  # pg_stat_activity is read once per transaction
                assert time.monotonic() < deadline, "the request never waited for the lock"
                time.sleep(0.005)
            owner.execute(text(change_sql), params)
            owner.commit()
            committed.append(True)

    worker = threading.Thread(target=lock_then_change)

    def start_owner(conn, cursor, statement, parameters, context, executemany):
        if locked.is_set() or after_statement not in statement:
            return  # once, and never for the other transaction's own statements
        worker.start()
        assert locked.wait(timeout=10), "the other transaction did not take its lock"

    event.listen(engine, "after_cursor_execute", start_owner)
    try:
        yield committed
    finally:
        event.remove(engine, "after_cursor_execute", start_owner)
        if worker.is_alive():
            worker.join(timeout=15)


def admin_patches(app, admin, tier, body):
    """A `meanwhile` action: the admin (`admin`: their headers) patches `tier` with `body`."""

    def change():
        response = app.test_client().patch(
            f"/api/admin/ticket-types/{tier.id}", json=body, headers=admin
        )
        assert response.status_code == 200, response.get_json()
        return True

    return change


# A guest browsing from one address (the per-address hold cap counts by it).
HOME = {"REMOTE_ADDR": "203.0.113.7"}


def add(client, tier, quantity, headers=None, environ=HOME):
    return client.post(
        "/api/cart/items",
        json={"ticketTypeId": tier.id, "quantity": quantity},
        headers=headers or {},
        environ_base=environ,
    )


def token(response) -> dict:
    return {"X-Cart-Token": response.headers["X-Cart-Token"]}


def held_by_address(sql, address: str) -> int:
    return sql(
        "SELECT coalesce(sum(ci.quantity), 0) AS n FROM cart_item ci JOIN cart c"
        " ON c.id = ci.cart_id WHERE c.client_address = :a AND c.status = 'active'"
        " AND c.user_id IS NULL AND c.hold_expires_at > now()",
        a=address,
    )[0]["n"]


def run_in_threads(count: int, action):
    """Run `action(i)` in `count` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def go(i):
        barrier.wait()
        return action(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(go, range(count)))


def new_event_body(venue, category, starts, title: str = "New Year Gala") -> dict:
    """What an admin posts to create a four-hour event (`POST /api/admin/events`)."""
    return {
        "title": title,
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(hours=4)).isoformat(),
        "venueId": venue.id,
        "categoryId": category.id,
    }


@contextmanager
def recorded(target, identifier: str, record_into) -> Iterator[list]:
    """`with recorded(Engine, "before_cursor_execute", note) as seen:` listens to a SQLAlchemy
    event while the block runs; `note(seen, *event_arguments)` appends what it wants to `seen`."""
    seen: list = []

    def listener(*arguments):
        record_into(seen, *arguments)

    from sqlalchemy import event

    event.listen(target, identifier, listener)
    try:
        yield seen
    finally:
        event.remove(target, identifier, listener)
