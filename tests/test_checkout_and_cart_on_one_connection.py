"""Review: checkouts and cart changes on an app whose pool holds ONE connection (so the next
request gets exactly the connection the last one used), on committed data:

- nothing is left on the connection after any answer (201, each refusal, an idempotent replay):
  no open transaction or savepoint, no pipeline, no changed setting, no lock, and the next
  request (a listing, a detail, an admin write, another checkout) sees what was committed;
- a connection lost in the middle of a checkout (its backend terminated between the order's
  statements) is a 503 that wrote nothing, and the next checkout on the pool succeeds (with
  the same Idempotency-Key: exactly one order);
- what a checkout sends PostgreSQL, read from libpq's own trace of the connection (so it
  counts statements however they are sent: one by one, pipelined, prepared): at most 8
  statements besides BEGIN/COMMIT, and 1 COMMIT."""

from __future__ import annotations

import re
import tempfile
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import text

from shop import create_app
from shop.database import libpq_url
from shop.extensions import db
from tests.helpers import violations
from tests.test_listing_equals_plain_definition import check_detail, check_listing

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]

SETTINGS = text("SELECT name, setting FROM pg_settings ORDER BY name")


def pooled(app):
    """The pool's one psycopg connection (checked out and straight back in)."""
    with app.app_context(), db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        connection.rollback()
        return raw


def state(app, database_url) -> dict:
    """How the next request finds the pooled connection, seen from it and from outside."""
    raw = pooled(app)
    seen_before = {
        "transaction_status": raw.info.transaction_status.name,
        "pipeline_status": int(raw.pgconn.pipeline_status),
        "autocommit": raw.autocommit,
    }
    with psycopg.connect(libpq_url(database_url), autocommit=True) as outside:
        activity = outside.execute(
            "SELECT state, backend_xid IS NOT NULL AS has_xid FROM pg_stat_activity WHERE pid = %s",
            (raw.info.backend_pid,),
        ).fetchone()
        locks = outside.execute(
            "SELECT locktype, mode FROM pg_locks WHERE pid = %s ORDER BY 1, 2",
            (raw.info.backend_pid,),
        ).fetchall()
    with app.app_context(), db.engine.connect() as connection:
        settings = dict(connection.execute(SETTINGS).all())
        temp = connection.execute(
            text("SELECT count(*) FROM pg_class WHERE relpersistence = 't'")
        ).scalar()
        connection.rollback()
    return {
        **seen_before,
        "activity": tuple(activity),
        "locks": locks,
        "settings": settings,
        "temp_tables": temp,
    }


def same(before: dict, after: dict) -> dict:
    changed = {
        name: (value, after["settings"].get(name))
        for name, value in before["settings"].items()
        if after["settings"].get(name) != value
    }
    rest = {k: (v, after[k]) for k, v in before.items() if k != "settings" and after[k] != v}
    return {**changed, **rest}


@pytest.fixture
def shop_floor(make, auth, one_connection_app):
    event = make.event(title="Pooled gala")
    cheap = make.ticket_type(event, price=Decimal("10.00"), capacity=30, max_per_order=10)
    scarce = make.ticket_type(event, price=Decimal("20.00"), capacity=3, max_per_order=10)
    dear = make.ticket_type(event, price=Decimal("99999999.99"), capacity=3, max_per_order=10)
    with one_connection_app.app_context():
        from flask_jwt_extended import create_access_token

        def headers(user):
            return {"Authorization": f"Bearer {create_access_token(identity=str(user.id))}"}

        buyers = [headers(make.user()) for _ in range(3)]
        admin = headers(make.user(role="admin"))
    return {
        "event": event, "cheap": cheap, "scarce": scarce, "dear": dear, "buyers": buyers,
        "admin": admin,
    }  # fmt: skip


def test_cart_and_checkout_answers_leave_the_pooled_connection_as_they_found_it(
    one_connection_app, database_url, shop_floor, sql, app
):
    client = one_connection_app.test_client()
    cheap, scarce = shop_floor["cheap"], shop_floor["scarce"]
    me, other, third = shop_floor["buyers"]
    admin = shop_floor["admin"]
    event_id = shop_floor["event"].id
    # The listing first, so its statements are prepared on the connection.
    for _ in range(6):
        assert client.get("/api/events").status_code == 200
        assert client.get(f"/api/events/{event_id}").status_code == 200
    before = state(one_connection_app, database_url)
    assert before["transaction_status"] == "IDLE" and before["locks"] == []

    def add(tier, quantity, headers):
        return client.post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": quantity},
            headers=headers,
        )  # fmt: skip

    def checkout(headers, body=None, key=None):
        extra = {"Idempotency-Key": key} if key else {}
        return client.post("/api/cart/checkout", json=body, headers={**headers, **extra})

    def lower_capacity():
        sql("UPDATE ticket_type SET capacity = 2 WHERE id = :id", id=scarce.id)

    def second_line():
        return client.get("/api/cart", headers=me).get_json()["data"]["items"][1]["id"]

    steps = [
        ("empty cart", lambda: checkout(me), 422),
        ("empty cart keyed", lambda: checkout(me, key="k-empty"), 422),
        ("add", lambda: add(cheap, 2, me), 201),
        ("add scarce", lambda: add(scarce, 2, me), 201),
        ("GET cart", lambda: client.get("/api/cart", headers=me), 200),
        ("other holds", lambda: add(scarce, 1, other), 201),
        ("price changed", lambda: checkout(me, {"expectedTotal": {"amount": "1.00",
                                                                  "currency": "DKK"}}), 409),
        ("sold out", lambda: lower_capacity() or checkout(me), 409),
        ("put", lambda: client.put(
            f"/api/cart/items/{second_line()}",
            json={"quantity": 1}, headers=me), 200),
        ("guest add", lambda: client.post("/api/cart/items", json={"ticketTypeId": cheap.id,
                                                                   "quantity": 1}), 201),
        ("placed keyed", lambda: checkout(me, key="k-1"), 201),
        ("replayed", lambda: checkout(me, key="k-1"), 201),
        ("reused key", lambda: checkout(me, {"expectedTotal": {"amount": "3.00",
                                                               "currency": "DKK"}}, key="k-1"),
         422),
        ("admin patch", lambda: client.patch(f"/api/admin/ticket-types/{cheap.id}",
                                             json={"price": "11.00"}, headers=admin), 200),
        ("other checks out", lambda: checkout(other), 201),
        ("third adds", lambda: add(cheap, 3, third), 201),
        ("third checks out", lambda: checkout(third), 201),
        ("delete cart", lambda: client.delete("/api/cart", headers=third), 200),
        # A refusal PostgreSQL itself raises mid-checkout: the total passes NUMERIC(10, 2).
        ("dear add", lambda: add(shop_floor["dear"], 2, third), 201),
        ("total too large", lambda: checkout(third), 422),
        ("total too large keyed", lambda: checkout(third, key="k-dear"), 422),
        ("after it", lambda: client.get(f"/api/events/{event_id}"), 200),
        ("delete dear cart", lambda: client.delete("/api/cart", headers=third), 200),
        ("no sign-in", lambda: client.post("/api/cart/checkout"), 401),
    ]  # fmt: skip
    for what, call, status in steps:
        response = call()
        assert (what, response.status_code) == (what, status), response.get_data(as_text=True)
        after = state(one_connection_app, database_url)
        assert (what, same(before, after)) == (what, {})
        # The next request on the same connection sees what was committed, as others do.
        check_detail(client, sql, event_id)
    check_listing(client, sql, {}, page_sizes=(20,))
    assert sql("SELECT id, sold FROM ticket_type ORDER BY id") == [
        {"id": cheap.id, "sold": 2 + 3},
        {"id": scarce.id, "sold": 1 + 1},
        {"id": shop_floor["dear"].id, "sold": 0},
    ]
    assert violations(app) == []


def terminate_own_backend_on(sql, table: str, operation: str):
    """A trigger that terminates the backend that writes a row of `table` (`operation`: INSERT
    or UPDATE): the connection is lost between the checkout's statements, whatever sends
    them."""
    sql(
        "CREATE OR REPLACE FUNCTION review_lose_connection() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5);"
        " RETURN NEW; END $$"
    )
    sql(
        f"CREATE TRIGGER review_lose_connection BEFORE {operation} ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION review_lose_connection()"
    )


LOSING_POINTS = [
    ("customer_order", "INSERT", None),
    ("customer_order", "INSERT", "lost-1"),
    ("ticket", "INSERT", None),
    ("cart", "UPDATE", "lost-2"),
    ("idempotency_key", "UPDATE", "lost-3"),
]


@pytest.fixture
def dropped_trigger(sql):
    yield
    for table in {table for table, _, _ in LOSING_POINTS}:
        sql(f"DROP TRIGGER IF EXISTS review_lose_connection ON {table}")
    sql("DROP FUNCTION IF EXISTS review_lose_connection()")


@pytest.mark.parametrize(("table", "operation", "key"), LOSING_POINTS)
def test_a_connection_lost_mid_checkout_is_a_503_that_wrote_nothing_then_it_sells_once(
    one_connection_app, shop_floor, sql, app, dropped_trigger, table, operation, key
):
    client = one_connection_app.test_client()
    me = shop_floor["buyers"][0]
    cheap = shop_floor["cheap"]
    keyed = {"Idempotency-Key": key} if key else {}
    added = client.post(
        "/api/cart/items", json={"ticketTypeId": cheap.id, "quantity": 2}, headers=me
    )
    assert added.status_code == 201
    user_id = sql("SELECT user_id FROM cart WHERE user_id IS NOT NULL")[0]["user_id"]
    terminate_own_backend_on(sql, table, operation)
    lost = client.post("/api/cart/checkout", headers={**me, **keyed})
    assert lost.status_code == 503, lost.get_data(as_text=True)[:300]
    assert lost.mimetype == "application/problem+json"
    assert lost.get_json()["code"] == "database_unavailable"
    assert sql("SELECT sold FROM ticket_type WHERE id = :id", id=cheap.id) == [{"sold": 0}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert sql("SELECT count(*) AS n FROM idempotency_key") == [{"n": 0}]
    assert sql("SELECT status FROM cart WHERE user_id = :u", u=user_id) == [{"status": "active"}]
    sql(f"DROP TRIGGER review_lose_connection ON {table}")
    assert client.get("/api/events").status_code == 200
    again = client.post("/api/cart/checkout", headers={**me, **keyed})
    assert again.status_code == 201, again.get_data(as_text=True)[:300]
    if key:
        replay = client.post("/api/cart/checkout", headers={**me, **keyed})
        assert (replay.status_code, replay.get_data()) == (201, again.get_data())
    assert sql("SELECT sold FROM ticket_type WHERE id = :id", id=cheap.id) == [{"sold": 2}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 1}]
    assert violations(app) == []


FRONTEND = re.compile(r"^F\t\d+\t(Query|Parse|Bind|Execute|Sync|Describe)\b(.*)$")


def traced(app, call) -> list[tuple[str, str]]:
    """The messages the pooled connection sent while `call()` ran, from libpq's trace."""
    raw = pooled(app)
    with tempfile.TemporaryFile("w+") as trace:
        raw.pgconn.trace(trace.fileno())
        raw.pgconn.set_trace_flags(
            psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE
        )
        try:
            call()
        finally:
            raw.pgconn.untrace()
        trace.seek(0)
        return [m.groups() for m in map(FRONTEND.match, trace.read().splitlines()) if m]


def statements(messages) -> list[str]:
    """Each statement sent: a simple Query, or an Execute of the extended protocol (its text
    from the Parse before it, if any)."""
    sent, last_parse = [], ""
    for kind, rest in messages:
        if kind == "Parse":
            last_parse = rest
        elif kind == "Query":
            sent.append(rest.strip())
        elif kind == "Execute":
            sent.append(last_parse.strip() or "<prepared>")
    return sent


@pytest.mark.parametrize("key", [None, "count-1"])
def test_a_checkout_sends_at_most_8_statements_and_one_commit(
    one_connection_app, shop_floor, sql, key
):
    client = one_connection_app.test_client()
    me = shop_floor["buyers"][0]
    for tier in (shop_floor["cheap"], shop_floor["scarce"]):
        added = client.post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1}, headers=me
        )
        assert added.status_code == 201
    # psycopg prepares a statement the 5th time it runs: warm up with other buyers first.
    sent: list[str] = []

    def checkout():
        response = client.post(
            "/api/cart/checkout", headers={**me, **({"Idempotency-Key": key} if key else {})}
        )
        assert response.status_code == 201, response.get_data(as_text=True)[:300]

    sent = statements(traced(one_connection_app, checkout))
    commits = [s for s in sent if re.search(r"\bCOMMIT\b", s, re.I)]
    work = [s for s in sent if not re.search(r"^\W*(BEGIN|COMMIT)\b", s, re.I)]
    assert len(commits) == 1, sent
    assert len(work) <= 8, "\n".join(work)
    print(len(work), *work, sep="\n")


@pytest.mark.parametrize("key", [None, "busy-1"])
def test_a_checkout_that_waited_too_long_for_a_lock_leaves_the_connection_clean(
    database_url, shop_floor, sql, app, key
):
    """The tier's lock held elsewhere past the checkout's lock timeout: a 503 `contention`,
    in the middle of the sale, then the connection is as the next request should find it."""
    busy_app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0},
            "DB_PING_AFTER_IDLE_SECONDS": 100_000,
            "CHECKOUT_LOCK_TIMEOUT_MS": 200,
        },
    )
    try:
        client = busy_app.test_client()
        me = {**shop_floor["buyers"][0], **({"Idempotency-Key": key} if key else {})}
        cheap = shop_floor["cheap"]
        added = client.post(
            "/api/cart/items", json={"ticketTypeId": cheap.id, "quantity": 2}, headers=me
        )
        assert added.status_code == 201
        before = state(busy_app, database_url)
        with psycopg.connect(libpq_url(database_url)) as blocker:
            blocker.execute("SELECT id FROM ticket_type WHERE id = %s FOR UPDATE", (cheap.id,))
            busy = client.post("/api/cart/checkout", headers=me)
        assert busy.status_code == 503, busy.get_data(as_text=True)[:300]
        assert busy.get_json()["code"] == "contention"
        assert same(before, state(busy_app, database_url)) == {}
        assert client.get("/api/events").status_code == 200
        placed = client.post("/api/cart/checkout", headers=me)
        assert placed.status_code == 201, placed.get_data(as_text=True)[:300]
        assert same(before, state(busy_app, database_url)) == {}
        assert sql("SELECT sold FROM ticket_type WHERE id = :id", id=cheap.id) == [{"sold": 2}]
        assert violations(app) == []
    finally:
        with busy_app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("key", [None, "again-1"])
@pytest.mark.parametrize("expected", [None, "20.00"])
def test_a_checkout_that_reads_again_leaves_the_connection_clean(
    one_connection_app, database_url, shop_floor, sql, app, key, expected
):
    """The tier repriced right after the checkout read the cart: the sale places nothing, the
    checkout reads again (a savepoint rolled back, or its whole transaction) and sells at the
    new price or refuses `price_changed`; then the connection is as the next request should
    find it, and a replay of the key answers the same."""
    from tests.helpers import meanwhile

    client = one_connection_app.test_client()
    headers = {**shop_floor["buyers"][0], **({"Idempotency-Key": key} if key else {})}
    cheap = shop_floor["cheap"]
    added = client.post(
        "/api/cart/items", json={"ticketTypeId": cheap.id, "quantity": 2}, headers=headers
    )
    assert added.status_code == 201
    before = state(one_connection_app, database_url)

    def reprice():
        with psycopg.connect(libpq_url(database_url), autocommit=True) as admin:
            admin.execute("UPDATE ticket_type SET price = 15.00 WHERE id = %s", (cheap.id,))
        return True

    body = {"expectedTotal": {"amount": expected, "currency": "DKK"}} if expected else None
    with meanwhile(one_connection_app, "WITH open_cart AS", reprice) as repriced:
        answer = client.post("/api/cart/checkout", json=body, headers=headers)
    assert repriced == [True]
    if expected:
        assert answer.status_code == 409, answer.get_data(as_text=True)[:300]
        assert answer.get_json()["currentTotal"] == {"amount": "30.00", "currency": "DKK"}
        sold = 0
    else:
        assert answer.status_code == 201, answer.get_data(as_text=True)[:300]
        assert answer.get_json()["data"]["total"] == {"amount": "30.00", "currency": "DKK"}
        sold = 2
    assert same(before, state(one_connection_app, database_url)) == {}
    if key:
        replay = client.post("/api/cart/checkout", json=body, headers=headers)
        assert (replay.status_code, replay.get_data()) == (answer.status_code, answer.get_data())
    assert sql("SELECT sold FROM ticket_type WHERE id = :id", id=cheap.id) == [{"sold": sold}]
    assert client.get(f"/api/events/{shop_floor['event'].id}").status_code == 200
    check_detail(client, sql, shop_floor["event"].id)
    assert violations(app) == []
