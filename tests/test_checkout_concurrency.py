"""Checkouts racing on real, separate connections: never more seats than exist, every loser a
clean 409, no deadlock, and the seats add up (sold + left = capacity, sold = tickets)."""

import pytest

from tests.helpers import run_together, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]


def checkout_as(app, headers):
    def act():
        response = app.test_client().post("/api/cart/checkout", headers=headers)
        return response.status_code, response.get_json()

    return act


def test_many_buyers_few_seats_never_oversell(app, make, auth, sql):
    tier = make.ticket_type(make.event(), capacity=7, max_per_order=4)
    buyers = []
    for i in range(14):
        user = make.user()
        # Every cart's hold has lapsed, so all fourteen compete for the seven seats at checkout.
        make.cart([(tier, 1 + i % 2)], user=user, hold_minutes=-1)
        buyers.append(auth.headers(user))

    results = run_together([checkout_as(app, headers) for headers in buyers])

    statuses = [status for status, _ in results]
    assert set(statuses) <= {201, 409}, statuses
    sold_in_responses = sum(
        body["data"]["ticketCount"] for status, body in results if status == 201
    )
    for status, body in results:
        if status == 409:
            assert body["code"] == "insufficient_availability"
            assert body["errors"]["lines"][0]["available"] < body["errors"]["lines"][0]["requested"]
    row = sql("SELECT sold, capacity FROM ticket_type")[0]
    tickets = sql("SELECT count(*) AS n FROM ticket")[0]["n"]
    orders = sql("SELECT count(*) AS n FROM customer_order")[0]["n"]
    assert row["sold"] <= row["capacity"]
    assert row["sold"] == tickets == sold_in_responses
    assert orders == statuses.count(201)
    assert row["capacity"] - row["sold"] < 2  # nobody was refused while a seat they wanted was free
    assert violations(app) == []


def test_opposite_line_orders_do_not_deadlock(app, make, auth, sql):
    first = make.ticket_type(make.event(), capacity=500)
    second = make.ticket_type(make.event(), capacity=500)
    rounds = 6
    users = [make.user() for _ in range(2)]
    headers = [auth.headers(user) for user in users]
    for _ in range(rounds):
        # The same two tiers, added in opposite orders: a lock taken per line in line order
        # would deadlock; checkout locks by ticket type id, so it cannot.
        make.cart([(first, 1), (second, 1)], user=users[0])
        make.cart([(second, 1), (first, 1)], user=users[1])
        results = run_together([checkout_as(app, h) for h in headers])
        assert [status for status, _ in results] == [201, 201], results
    assert sql("SELECT sold FROM ticket_type ORDER BY id") == [
        {"sold": 2 * rounds},
        {"sold": 2 * rounds},
    ]
    assert sql("SELECT count(*) AS n FROM ticket")[0]["n"] == 4 * rounds
    assert violations(app) == []


def test_a_lock_held_too_long_is_a_retryable_503_not_a_hang(database_url, make, auth, sql):
    import psycopg

    from shop import create_app
    from shop.database import libpq_url
    from shop.extensions import db

    # Every connection of this app waits at most 200 ms for a row lock.
    app = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": database_url, "CHECKOUT_LOCK_TIMEOUT_MS": 200}
    )
    tier = make.ticket_type(make.event(), capacity=10)
    user = make.user()
    make.cart([(tier, 1)], user=user, hold_minutes=-1)
    headers = {**auth.headers(user), "Idempotency-Key": "busy-1"}
    try:
        with psycopg.connect(libpq_url(database_url)) as blocker:
            blocker.execute("SELECT id FROM ticket_type WHERE id = %s FOR UPDATE", (tier.id,))
            response = app.test_client().post("/api/cart/checkout", headers=headers)
        assert response.status_code == 503
        assert response.get_json()["code"] == "contention"
        assert response.headers["Retry-After"] == "1"
        assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
        assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
        # A 503 is not stored under the key: the retry runs (and is no replay).
        retry = app.test_client().post("/api/cart/checkout", headers=headers)
        assert retry.status_code == 201
        assert "Idempotent-Replayed" not in retry.headers
        assert violations(app) == []
    finally:
        with app.app_context():
            db.engine.dispose()


def test_without_a_key_the_tier_is_unlocked_before_the_order_is_serialized(
    app, make, auth, database_url, monkeypatch
):
    """Every buyer of a tier waits for its lock, so checkout commits before it writes the order
    out as JSON (shop/orders/checkout_routes.py): while the answer is being built,
    another transaction can lock the tier and sees the sale committed."""
    import psycopg

    from shop.database import libpq_url
    from shop.orders import checkout_routes

    tier = make.ticket_type(make.event(), capacity=5)
    user = make.user()
    make.cart([(tier, 1)], user=user, hold_minutes=-1)
    seen_by_another_transaction = []
    shape = checkout_routes.placed_order_body

    def order_view_after_a_look(order, **kwargs):
        with psycopg.connect(libpq_url(database_url), autocommit=True) as other:
            row = other.execute(
                "SELECT sold FROM ticket_type WHERE id = %s FOR UPDATE NOWAIT", (tier.id,)
            ).fetchone()
            seen_by_another_transaction.append(row[0])
        return shape(order, **kwargs)

    monkeypatch.setattr(checkout_routes, "placed_order_body", order_view_after_a_look)
    response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["ticketCount"] == 1
    assert seen_by_another_transaction == [1]


def test_sold_out_refusals_keep_the_connections_statements_prepared(app, make, auth, sql):
    """A refused checkout without an Idempotency-Key wrote nothing and ends its transaction with
    a COMMIT: a ROLLBACK would make psycopg forget every statement it prepared on the
    connection, so a worker answering a sold-out rush's 409s would have PostgreSQL parse and
    plan the token's and the cart's statements again for every one (shop/services/checkout.py,
    `transaction_is_ours`). psycopg prepares a statement on its fifth run on a connection."""
    from sqlalchemy import text

    from shop.extensions import db

    tier = make.ticket_type(make.event(), capacity=2, sold=2)
    buyers = []
    for _ in range(7):
        user = make.user()
        make.cart([(tier, 1)], user=user, hold_minutes=-1)
        buyers.append(auth.headers(user))
    with app.app_context():
        db.engine.dispose()  # one fresh connection serves the requests below, one at a time

    client = app.test_client()
    for headers in buyers:
        response = client.post("/api/cart/checkout", headers=headers)
        assert response.status_code == 409, response.get_json()

    with app.app_context():
        prepared = db.session.execute(
            text("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        ).scalars()
        assert [s for s in prepared if "WITH open_cart AS" in s], "the cart read was not prepared"
    assert sql("SELECT count(*) AS n FROM cart WHERE status = 'active'") == [{"n": 7}]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 2}]
