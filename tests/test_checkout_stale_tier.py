"""Checkout reads and checks without a lock and locks last (shop/services/checkout.py), so a
tier, or the checkout's own hold, can change between that read and the sale. These tests
commit such a change exactly there, on another connection, and prove the checkout never sells
on the stale read: it starts again from the read and refuses with the reason that is true
now, or sells on the current values. (The cart itself changing there:
tests/test_checkout_stale_cart.py.)"""

import threading
import time

import pytest
from sqlalchemy import event

from shop.services import checkout
from tests.helpers import admin_patches, meanwhile, problem, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]

# Checkout's first statement, the read that takes no lock (shop/services/checkout.py, step 1).
CHECKOUT_READ = "WITH open_cart AS"


@pytest.fixture
def admin(make, auth):
    return auth.headers(make.user(role="admin"))


def test_a_price_raised_after_checkout_read_the_cart_is_refused_as_price_changed(
    app, make, auth, admin, sql
):
    tier = make.ticket_type(capacity=10)  # 250.00 DKK
    user = make.user()
    make.cart([(tier, 2)], user=user)

    with meanwhile(app, CHECKOUT_READ, admin_patches(app, admin, tier, {"price": "400.00"})) as f:
        response = app.test_client().post(
            "/api/cart/checkout",
            json={"expectedTotal": {"amount": "500.00", "currency": "DKK"}},
            headers=auth.headers(user),
        )

    assert f
    body = problem(response, 409, "price_changed")
    assert body["currentTotal"] == {"amount": "800.00", "currency": "DKK"}
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT status FROM cart") == [{"status": "active"}]


def test_without_expected_total_a_price_raised_after_the_read_is_paid_at_the_new_price(
    app, make, auth, admin, sql
):
    """No `expectedTotal`: the buyer pays the price of the moment the tier is locked, never the
    one the admin replaced. The Idempotency-Key's claim survives the checkout starting again:
    the same request replays the order."""
    tier = make.ticket_type(capacity=10)  # 250.00 DKK
    user = make.user()
    make.cart([(tier, 2)], user=user)
    headers = {**auth.headers(user), "Idempotency-Key": "raised-meanwhile"}

    with meanwhile(app, CHECKOUT_READ, admin_patches(app, admin, tier, {"price": "400.00"})) as f:
        response = app.test_client().post("/api/cart/checkout", headers=headers)

    assert f
    assert response.status_code == 201, response.get_json()
    order = response.get_json()["data"]
    assert order["total"] == {"amount": "800.00", "currency": "DKK"}
    assert [item["unitPrice"] for item in order["items"]] == [
        {"amount": "400.00", "currency": "DKK"}
    ]
    assert sql(
        "SELECT total, unit_price FROM customer_order JOIN order_item"
        " ON order_item.order_id = customer_order.id"
    ) == [{"total": 800, "unit_price": 400}]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 2}]
    replay = app.test_client().post("/api/cart/checkout", headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["data"]["id"] == order["id"]
    assert violations(app) == []


def test_without_a_key_a_checkout_starting_again_rolls_everything_back_and_sells_once(
    app, make, auth, admin, sql
):
    """No Idempotency-Key, so no claim to keep: a checkout whose sale found the tier changed
    rolls its whole transaction back (no savepoint was taken) and starts again from the read,
    then sells once, at the new price, with the cart closed once."""
    tier = make.ticket_type(capacity=10)  # 250.00 DKK
    user = make.user()
    cart = make.cart([(tier, 2)], user=user, hold_minutes=-1)
    sent = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    with app.app_context():
        from shop.extensions import db

        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        with meanwhile(
            app, CHECKOUT_READ, admin_patches(app, admin, tier, {"price": "400.00"})
        ) as f:
            response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert f
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["total"] == {"amount": "800.00", "currency": "DKK"}
    assert [s for s in sent if s.startswith(checkout.SAVEPOINT)] == []
    assert len([s for s in sent if CHECKOUT_READ in s]) == 2  # read, sale refused, read again
    assert sql("SELECT total FROM customer_order") == [{"total": 800}]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 2}]
    assert sql("SELECT status FROM cart WHERE id = :id", id=cart.id) == [{"status": "checked_out"}]
    assert violations(app) == []


def test_sales_closed_after_checkout_read_the_cart_sell_nothing(app, make, auth, admin, sql):
    tier = make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(tier, 1)], user=user)
    [closed] = sql("SELECT now() - interval '1 minute' AS at")

    with meanwhile(
        app, CHECKOUT_READ, admin_patches(app, admin, tier, {"salesEnd": closed["at"].isoformat()})
    ) as f:
        response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))

    assert f
    body = problem(response, 409, "not_on_sale")
    assert [line["ticketTypeId"] for line in body["errors"]["lines"]] == [tier.id]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]


def test_a_customer_limit_lowered_after_checkout_read_the_cart_is_enforced(
    app, make, auth, admin, sql
):
    tier = make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(tier, 2)], user=user)

    with meanwhile(app, CHECKOUT_READ, admin_patches(app, admin, tier, {"maxPerCustomer": 1})) as f:
        response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))

    assert f
    body = problem(response, 409, "customer_limit_exceeded")
    [line] = body["errors"]["lines"]
    assert (line["ticketTypeId"], line["limit"], line["allowed"]) == (tier.id, 1, 1)
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]


def test_a_max_per_order_lowered_before_checkout_refuses_the_lines_over_it(
    app, make, auth, admin, sql
):
    tier = make.ticket_type(capacity=20, max_per_order=10)
    user = make.user()
    make.cart([(tier, 6)], user=user)
    admin_patches(app, admin, tier, {"maxPerOrder": 2})()

    response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))

    body = problem(response, 422, "quantity_over_limit")
    [line] = body["errors"]["lines"]
    assert (line["ticketTypeId"], line["requested"], line["limit"]) == (tier.id, 6, 2)
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT status FROM cart") == [{"status": "active"}]


def test_a_max_per_order_lowered_after_checkout_read_the_cart_is_enforced(
    app, make, auth, admin, sql
):
    tier = make.ticket_type(capacity=20, max_per_order=10)
    user = make.user()
    make.cart([(tier, 6)], user=user)

    with meanwhile(app, CHECKOUT_READ, admin_patches(app, admin, tier, {"maxPerOrder": 2})) as f:
        response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))

    assert f
    body = problem(response, 422, "quantity_over_limit")
    assert body["errors"]["lines"][0]["limit"] == 2
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]


def test_a_line_sold_out_under_the_lock_is_the_only_line_reported_short(app, make, auth, sql):
    """Another buyer takes B's last seat between the read and the lock (our hold lapsed, so it
    was free). Step 4 raised A's `sold` before finding B short; the refusal must count what is
    left without that rolled-back increment: A (6 left) is not short."""
    tier_a = make.ticket_type(capacity=6)
    tier_b = make.ticket_type(capacity=1)
    user, rival = make.user(), make.user()
    make.cart([(tier_a, 4), (tier_b, 1)], user=user, hold_minutes=-1)  # hold lapsed
    rival_headers = auth.headers(rival)

    def rival_buys_the_last_b():
        client = app.test_client()
        added = client.post(
            "/api/cart/items",
            json={"ticketTypeId": tier_b.id, "quantity": 1},
            headers=rival_headers,
        )
        assert added.status_code == 201, added.get_json()
        bought = client.post("/api/cart/checkout", headers=rival_headers)
        assert bought.status_code == 201, bought.get_json()
        return True

    with meanwhile(app, CHECKOUT_READ, rival_buys_the_last_b) as fired:
        response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))

    assert fired
    body = problem(response, 409, "insufficient_availability")
    short = {line["ticketTypeId"]: line["available"] for line in body["errors"]["lines"]}
    assert short == {tier_b.id: 0}
    assert sql("SELECT id, sold FROM ticket_type ORDER BY id") == [
        {"id": tier_a.id, "sold": 0},
        {"id": tier_b.id, "sold": 1},
    ]
    assert violations(app) == []


def test_a_hold_that_lapses_before_the_sale_leaves_the_seats_to_the_cart_holding_them_now(
    app, make, auth, sql
):
    """Our hold is live when checkout reads the cart and lapses before the sale; meanwhile
    another buyer puts the same seats in their cart (our hold had lapsed, so they were free).
    Checkout must not sell them to us: sold + live holds stays within capacity and the rival,
    whose hold is live, buys them."""
    tier = make.ticket_type(capacity=2)
    user, rival = make.user(), make.user()
    make.cart([(tier, 2)], user=user, hold_minutes=2 / 60)  # lapses in 2 seconds
    rival_headers = auth.headers(rival)

    def rival_takes_the_seats_once_the_hold_lapsed():
        time.sleep(2.5)
        added = app.test_client().post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2}, headers=rival_headers
        )
        assert added.status_code == 201, added.get_json()
        return True

    with meanwhile(app, CHECKOUT_READ, rival_takes_the_seats_once_the_hold_lapsed) as fired:
        response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))

    assert fired
    body = problem(response, 409, "insufficient_availability")
    assert body["errors"]["lines"][0]["available"] == 0
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert violations(app) == []
    rival_bought = app.test_client().post("/api/cart/checkout", headers=rival_headers)
    assert rival_bought.status_code == 201, rival_bought.get_json()


def test_a_tier_that_changes_under_every_attempt_gets_a_retryable_503_and_writes_nothing(
    app, make, auth, admin, sql
):
    """Checkout starts again a bounded number of times (READ_ATTEMPTS), then gives up with a
    503 the client may retry; nothing it did in between is left behind."""
    tier = make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(tier, 1)], user=user)
    with app.app_context():
        from shop.extensions import db

        engine = db.engine
    raised = []

    def admin_raises_the_price_after_every_read(conn, cursor, statement, *args):
        if CHECKOUT_READ in statement:
            price = f"{300 + len(raised)}.00"
            worker = threading.Thread(target=admin_patches(app, admin, tier, {"price": price}))
            worker.start()
            worker.join(timeout=10)
            raised.append(price)

    event.listen(engine, "after_cursor_execute", admin_raises_the_price_after_every_read)
    try:
        response = app.test_client().post(
            "/api/cart/checkout", headers={**auth.headers(user), "Idempotency-Key": "busy"}
        )
    finally:
        event.remove(engine, "after_cursor_execute", admin_raises_the_price_after_every_read)

    assert len(raised) == checkout.READ_ATTEMPTS
    problem(response, 503, "contention")
    assert "Retry-After" in response.headers
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert sql("SELECT count(*) AS n FROM idempotency_key") == [{"n": 0}]
    assert sql("SELECT status FROM cart") == [{"status": "active"}]


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Moved to the big hall"},
        {"startsAt": "2031-05-01T20:00:00+00:00", "endsAt": "2031-05-01T23:00:00+00:00"},
    ],
    ids=["renamed", "rescheduled"],
)
def test_an_event_renamed_or_moved_after_the_read_is_copied_into_the_order_as_it_is_now(
    app, make, auth, admin, sql, change
):
    """The order line copies the event's title and start (what the ticket shows). An admin's
    change committed between checkout's read and its event lock sends the checkout back to the
    read, so the order never carries the old title or time."""
    tier = make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(tier, 1)], user=user)

    def admin_changes_the_event():
        response = app.test_client().patch(
            f"/api/admin/events/{tier.event_id}", json=change, headers=admin
        )
        assert response.status_code == 200, response.get_json()
        return True

    with meanwhile(app, CHECKOUT_READ, admin_changes_the_event) as fired:
        response = app.test_client().post("/api/cart/checkout", headers=auth.headers(user))

    assert fired
    assert response.status_code == 201, response.get_json()
    event_now = sql("SELECT title, starts_at FROM event")
    assert sql("SELECT event_title AS title, event_starts_at AS starts_at FROM order_item") == (
        event_now
    )
    line = response.get_json()["data"]["items"][0]
    assert line["eventTitle"] == event_now[0]["title"]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 1}]
    assert violations(app) == []
