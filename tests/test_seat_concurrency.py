"""Admin event cancels racing checkouts and order cancels, and idempotency keys whose request
died, on real, separate connections: no deadlock, no 503, and `flask check` finds nothing."""

import psycopg
import pytest

from shop import create_app
from shop.database import libpq_url
from shop.extensions import db
from shop.idempotency_store import fingerprint
from tests.helpers import problem, run_together, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]


def post(app, path, headers):
    def act():
        response = app.test_client().post(path, headers=headers)
        return response.status_code, response.get_json()

    return act


@pytest.fixture
def admin(make, auth):
    return auth.headers(make.user(role="admin"))


def test_event_cancel_racing_checkouts_neither_deadlocks_nor_loses_a_seat(
    app, make, auth, admin, sql
):
    for trial in range(3):
        a = make.ticket_type(make.event(title=f"A{trial}"), capacity=100)
        b = make.ticket_type(make.event(title=f"B{trial}"), capacity=100)
        buyers = []
        for i in range(24):
            user = make.user()
            # Half the carts mix both events (the event cancel touches their orders too).
            make.cart([(a, 2), (b, 1)] if i % 2 else [(a, 1)], user=user)
            buyers.append(auth.headers(user))
        actions = [post(app, "/api/cart/checkout", headers) for headers in buyers]
        actions.insert(12, post(app, f"/api/admin/events/{a.event_id}/cancel", admin))

        results = run_together(actions)

        statuses = [status for status, _ in results]
        assert statuses[12] == 200, results[12]
        checkouts = statuses[:12] + statuses[13:]
        assert set(checkouts) <= {201, 409}, checkouts
        assert all(body["code"] == "not_on_sale" for status, body in results if status == 409), (
            results
        )
        # Whatever sold before the cancel was voided by it; nothing sold after it.
        assert sql("SELECT sold FROM ticket_type WHERE id = :id", id=a.id) == [{"sold": 0}]
        assert sql(
            "SELECT count(*) AS n FROM ticket t JOIN order_item oi ON oi.id = t.order_item_id"
            " WHERE oi.ticket_type_id = :id AND t.status = 'valid'",
            id=a.id,
        ) == [{"n": 0}]
        assert violations(app) == []


def test_event_cancel_racing_order_cancels_both_succeed(app, make, auth, admin, sql):
    a = make.ticket_type(make.event(title="A"), capacity=100)
    b = make.ticket_type(make.event(title="B"), capacity=100)
    orders = []
    for _ in range(12):
        user = make.user()
        make.cart([(a, 2), (b, 2)], user=user)
        headers = auth.headers(user)
        response = app.test_client().post("/api/cart/checkout", headers=headers)
        assert response.status_code == 201
        orders.append((response.get_json()["data"]["id"], headers))
    actions = [post(app, f"/api/orders/{order_id}/cancel", headers) for order_id, headers in orders]
    actions.insert(6, post(app, f"/api/admin/events/{a.event_id}/cancel", admin))

    results = run_together(actions)

    assert [status for status, _ in results] == [200] * 13, results
    assert sql("SELECT sold FROM ticket_type ORDER BY id") == [{"sold": 0}, {"sold": 0}]
    assert sql("SELECT DISTINCT status FROM customer_order") == [{"status": "cancelled"}]
    assert violations(app) == []


@pytest.fixture
def impatient_app(database_url):
    """The app with a 200 ms lock timeout, so waits that would time out do so quickly."""
    application = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": database_url, "CHECKOUT_LOCK_TIMEOUT_MS": 200}
    )
    yield application
    with application.app_context():
        db.engine.dispose()


def claim_in_another_transaction(database_url, user_id, key, body=b""):
    """A request holding `key` mid-work: its claim inserted, its transaction still open."""
    connection = psycopg.connect(libpq_url(database_url))
    connection.execute(
        "INSERT INTO idempotency_key (user_id, key, request_fingerprint) VALUES (%s, %s, %s)",
        (user_id, key, fingerprint("POST", "/api/cart/checkout", body)),
    )
    return connection


def test_a_duplicate_of_a_running_request_is_409_and_a_dead_claim_blocks_nothing(
    impatient_app, database_url, make, auth, sql
):
    tier = make.ticket_type(make.event(), capacity=10)
    user = make.user()
    make.cart([(tier, 1)], user=user)
    headers = {**auth.headers(user), "Idempotency-Key": "crash-1"}
    client = impatient_app.test_client()

    running = claim_in_another_transaction(database_url, user.id, "crash-1")
    problem(client.post("/api/cart/checkout", headers=headers), 409, "idempotency_key_in_progress")
    # The worker dies: its connection goes, its transaction rolls back, the claim with it.
    running.close()

    response = client.post("/api/cart/checkout", headers=headers)
    assert response.status_code == 201, response.get_json()
    replay = client.post("/api/cart/checkout", headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_data() == response.get_data()
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 1}]
    assert violations(impatient_app) == []


def test_a_claim_killed_by_the_database_blocks_nothing(
    impatient_app, database_url, make, auth, sql
):
    tier = make.ticket_type(make.event(), capacity=10)
    user = make.user()
    make.cart([(tier, 1)], user=user)
    running = claim_in_another_transaction(database_url, user.id, "crash-2")
    pid = running.info.backend_pid
    sql("SELECT pg_terminate_backend(:pid)", pid=pid)
    running.close()
    headers = {**auth.headers(user), "Idempotency-Key": "crash-2"}
    response = impatient_app.test_client().post("/api/cart/checkout", headers=headers)
    assert response.status_code == 201, response.get_json()
    assert violations(impatient_app) == []


def test_duplicates_racing_wait_for_the_first_and_replay_it(app, make, auth, sql):
    tier = make.ticket_type(make.event(), capacity=50)
    user = make.user()
    make.cart([(tier, 2)], user=user)
    headers = {**auth.headers(user), "Idempotency-Key": "race-1"}

    def act():
        response = app.test_client().post("/api/cart/checkout", headers=headers)
        return response.status_code, response.get_data(), response.headers

    results = run_together([act for _ in range(6)])

    assert [status for status, _, _ in results] == [201] * 6
    assert len({body for _, body, _ in results}) == 1
    assert sum(headers.get("Idempotent-Replayed") == "true" for _, _, headers in results) == 5
    assert len({headers["Location"] for _, _, headers in results}) == 1
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 1}]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 2}]
    assert violations(app) == []


def test_a_sold_out_tier_answers_409_without_queuing_behind_the_lock_holders(
    impatient_app, database_url, make, auth, sql
):
    tier = make.ticket_type(make.event(), capacity=1)
    first, user = make.user(), make.user()
    make.cart([(tier, 1)], user=first)
    make.cart([(tier, 1)], user=user, hold_minutes=-1)
    client = impatient_app.test_client()
    assert client.post("/api/cart/checkout", headers=auth.headers(first)).status_code == 201
    with psycopg.connect(libpq_url(database_url)) as buyer_mid_checkout:
        # Someone holds the tier's lock (a checkout in progress); with the plain version every
        # buyer would queue behind it and time out (503) before learning it is sold out.
        buyer_mid_checkout.execute(
            "SELECT id FROM ticket_type WHERE id = %s FOR UPDATE", (tier.id,)
        )
        response = client.post("/api/cart/checkout", headers=auth.headers(user))
    body = problem(response, 409, "insufficient_availability")
    assert body["errors"]["lines"][0]["available"] == 0
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 1}]
    assert violations(impatient_app) == []
