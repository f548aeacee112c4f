"""Attacks on checkout, add-to-cart and tokens (from an independent review): seats and money
stay exact when checkouts race each other, an admin, a lapsing hold, or a token that stopped
being valid."""

import pytest

from tests.helpers import (
    admin_patches,
    lock_taken_meanwhile,
    meanwhile,
    problem,
    run_together,
    violations,
)

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]

CHECKOUT_READ = "WITH open_cart AS"
CHECKOUT_CLOSE = "WITH closed AS"


@pytest.fixture
def admin(make, auth):
    return auth.headers(make.user(role="admin"))


def checkout(app, headers):
    return lambda: app.test_client().post("/api/cart/checkout", headers=headers)


@pytest.mark.parametrize("hold_minutes", [15, -1])
@pytest.mark.parametrize("keyed", [False, True])
def test_four_tabs_checking_out_one_cart_at_once_buy_it_once(
    app, make, auth, sql, hold_minutes, keyed
):
    tier = make.ticket_type(capacity=5)
    user = make.user()
    make.cart([(tier, 2)], user=user, hold_minutes=hold_minutes)
    base = auth.headers(user)
    tabs = [
        checkout(app, {**base, "Idempotency-Key": f"tab-{n}"} if keyed else base) for n in range(4)
    ]

    responses = run_together(tabs)

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, [(r.status_code, r.get_json()) for r in responses]
    assert all(s < 500 for s in statuses), statuses
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 2}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 1}]
    assert sql("SELECT count(*) AS n FROM ticket") == [{"n": 2}]
    assert violations(app) == []


def test_capacity_lowered_after_the_read_never_sells_past_it(app, make, auth, admin, sql):
    """A lapsed cart holds nothing, so an admin may lower capacity below it meanwhile."""
    tier = make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(tier, 3)], user=user, hold_minutes=-1)

    with meanwhile(app, CHECKOUT_READ, admin_patches(app, admin, tier, {"capacity": 2})) as f:
        response = checkout(app, auth.headers(user))()

    assert f
    body = problem(response, 409, "insufficient_availability")
    assert body["errors"]["lines"][0]["available"] == 2
    assert sql("SELECT sold, capacity FROM ticket_type") == [{"sold": 0, "capacity": 2}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert sql("SELECT status FROM cart") == [{"status": "active"}]


def test_capacity_lowered_to_the_live_holds_after_the_read_still_sells_them(
    app, make, auth, admin, sql
):
    """A live hold is the cart's: the admin may lower capacity to sold + held, not below."""
    tier = make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(tier, 3)], user=user)
    make.cart([(tier, 2)])  # a guest's live hold

    with meanwhile(app, CHECKOUT_READ, admin_patches(app, admin, tier, {"capacity": 5})) as f:
        response = checkout(app, auth.headers(user))()

    assert f
    assert response.status_code == 201, response.get_json()
    assert sql("SELECT sold, capacity FROM ticket_type") == [{"sold": 3, "capacity": 5}]
    assert violations(app) == []


TIER_LOCK = "SELECT 1 FROM ticket_type WHERE id = :id FOR UPDATE"


def test_max_per_customer_lowered_under_the_tier_lock_is_enforced(app, make, auth, sql):
    """Another transaction holds the tier's lock when the cart is closed, and lowers
    maxPerCustomer while the sale waits for that lock (an admin's change committed first)."""
    tier = make.ticket_type(capacity=10, max_per_customer=5)
    user = make.user()
    make.cart([(tier, 3)], user=user)

    with lock_taken_meanwhile(
        app,
        CHECKOUT_CLOSE,
        TIER_LOCK,
        "UPDATE ticket_type SET max_per_customer = 2 WHERE id = :id",
        id=tier.id,
    ) as committed:
        response = checkout(app, auth.headers(user))()

    assert committed
    problem(response, 409, "customer_limit_exceeded")
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("capacity = sold + 1", "insufficient_availability"),
        ("sold = capacity - 1", "insufficient_availability"),
        ("sales_end = now() - interval '1 minute'", "not_on_sale"),
    ],
)
def test_a_tier_changed_under_its_lock_while_the_sale_waits_sells_nothing(
    app, make, auth, sql, change, code
):
    tier = make.ticket_type(capacity=10)  # 250.00 DKK
    user = make.user()
    make.cart([(tier, 2)], user=user)

    with lock_taken_meanwhile(
        app,
        CHECKOUT_CLOSE,
        TIER_LOCK,
        f"UPDATE ticket_type SET {change} WHERE id = :id",
        id=tier.id,
    ) as committed:
        response = app.test_client().post(
            "/api/cart/checkout",
            json={"expectedTotal": {"amount": "500.00", "currency": "DKK"}},
            headers=auth.headers(user),
        )

    assert committed
    problem(response, 409, code)
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert sql("SELECT count(*) AS n FROM ticket") == [{"n": 0}]
    assert sql("SELECT status FROM cart") == [{"status": "active"}]


def test_a_replayed_key_after_a_price_change_replays_the_order_and_sells_nothing_more(
    app, make, auth, admin, sql
):
    tier = make.ticket_type(capacity=10)
    user = make.user()
    make.cart([(tier, 2)], user=user)
    headers = {**auth.headers(user), "Idempotency-Key": "replay-after-price"}
    first = app.test_client().post("/api/cart/checkout", headers=headers)
    assert first.status_code == 201, first.get_json()
    assert admin_patches(app, admin, tier, {"price": "999.00"})()
    make.cart([(tier, 1)], user=user)  # a new cart: the replay must not buy it

    again = app.test_client().post("/api/cart/checkout", headers=headers)

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 2}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 1}]


def test_a_logged_out_token_cannot_check_out(app, make, auth, sql):
    user = make.user(email="gone@example.com")
    tier = make.ticket_type(capacity=5)
    make.cart([(tier, 1)], user=user)
    tokens = auth.login("gone@example.com").get_json()["data"]
    access = {"Authorization": f"Bearer {tokens['accessToken']}"}
    out = app.test_client().post(
        "/api/auth/logout", headers=access, json={"refreshToken": tokens["refreshToken"]}
    )
    assert out.status_code == 204

    for headers in (access, {**access, "Idempotency-Key": "after-logout"}):
        problem(checkout(app, headers)(), 401, "token_revoked")
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]


def test_a_deleted_account_cannot_check_out(app, make, auth, sql):
    user = make.user()
    tier = make.ticket_type(capacity=5)
    headers = auth.headers(user)
    make.cart([(tier, 1)], user=user)
    sql("DELETE FROM app_user WHERE id = :id", id=user.id)

    problem(checkout(app, headers)(), 401, "token_invalid")
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]


def test_an_account_deleted_after_the_read_buys_nothing_and_is_no_5xx(app, make, auth, sql):
    user = make.user()
    tier = make.ticket_type(capacity=5)
    make.cart([(tier, 1)], user=user)

    def delete_account():
        sql("DELETE FROM app_user WHERE id = :id", id=user.id)
        return True

    with meanwhile(app, CHECKOUT_READ, delete_account) as f:
        response = checkout(app, auth.headers(user))()

    assert f
    assert response.status_code < 500, response.get_json()
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]


@pytest.mark.parametrize("own_hold_minutes", [15, -1])
def test_seats_in_lapsed_or_checked_out_carts_do_not_refuse_a_checkout(
    app, make, auth, sql, own_hold_minutes
):
    """The sold-out fast path must not refuse while seats exist: 3 seats, 1 sold, a rival's
    lapsed cart and a checked-out cart (its hold time still in the future) hold nothing."""
    tier = make.ticket_type(capacity=3, sold=1)
    make.cart([(tier, 2)], user=make.user(), hold_minutes=-1)
    make.cart([(tier, 2)], user=make.user(), status="checked_out")
    make.cart([(tier, 2)], hold_minutes=-1)  # a guest's lapsed cart
    user = make.user()
    make.cart([(tier, 2)], user=user, hold_minutes=own_hold_minutes)

    response = checkout(app, auth.headers(user))()

    assert response.status_code == 201, response.get_json()
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 3}]


@pytest.mark.parametrize("rival", ["signed-in", "guest"])
def test_a_lapsed_cart_never_buys_seats_a_live_cart_holds(app, make, auth, sql, rival):
    tier = make.ticket_type(capacity=3, sold=1)
    make.cart([(tier, 2)], user=make.user() if rival == "signed-in" else None)
    user = make.user()
    make.cart([(tier, 1)], user=user, hold_minutes=-1)

    body = problem(checkout(app, auth.headers(user))(), 409, "insufficient_availability")

    assert body["errors"]["lines"][0]["available"] == 0
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 1}]


def test_lapsed_carts_racing_for_the_last_seats_never_oversell(app, make, auth, sql):
    """Eight lapsed carts of 2 race for 7 seats while two live carts hold the other 2 of 9:
    the live carts' seats stay theirs and the lapsed ones sell 3 orders of 2."""
    tier = make.ticket_type(capacity=9)
    live_buyers = [make.user() for _ in range(2)]
    for buyer in live_buyers:
        make.cart([(tier, 1)], user=buyer)
    lapsed = [make.user() for _ in range(8)]
    for buyer in lapsed:
        make.cart([(tier, 2)], user=buyer, hold_minutes=-1)

    responses = run_together([checkout(app, auth.headers(b)) for b in lapsed])

    sold_by_lapsed = sum(2 for r in responses if r.status_code == 201)
    assert all(r.status_code in (201, 409) for r in responses), [
        (r.status_code, r.get_json()) for r in responses
    ]
    assert sold_by_lapsed == 6  # three orders of 2 fit in 9 - 2 held; a fourth would need 8
    for buyer in live_buyers:
        assert checkout(app, auth.headers(buyer))().status_code == 201
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 8}]
    assert violations(app) == []


def test_an_event_deleted_after_the_read_sells_nothing(app, make, auth, admin, sql):
    event = make.event()
    tier = make.ticket_type(event, capacity=5)
    user = make.user()
    make.cart([(tier, 1)], user=user)

    def delete_event():
        response = app.test_client().delete(f"/api/admin/events/{event.id}", headers=admin)
        assert response.status_code == 204, response.get_json()
        return True

    with meanwhile(app, CHECKOUT_READ, delete_event) as f:
        response = checkout(app, auth.headers(user))()

    assert f
    assert response.status_code in (409, 422), response.get_json()
    assert response.status_code < 500
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert sql("SELECT count(*) AS n FROM ticket_type") == [{"n": 0}]


def test_checkouts_racing_an_admin_repricing_pay_a_real_price_and_add_up(
    app, make, auth, admin, sql
):
    """Ten buyers (lapsed and live holds, no expectedTotal) check out while an admin flips the
    price between 250 and 300 several times: every order is paid at one of the two prices,
    its total is the sum of its lines, each line has one ticket per seat, and seats add up."""
    tier = make.ticket_type(capacity=14)  # 250.00 DKK
    buyers = [make.user() for _ in range(10)]
    for n, buyer in enumerate(buyers):
        make.cart([(tier, 1 + n % 2)], user=buyer, hold_minutes=15 if n % 3 else -1)

    def reprice():
        for price in ("300.00", "250.00", "300.00", "250.00", "300.00"):
            admin_patches(app, admin, tier, {"price": price})()
        return None

    responses = run_together([checkout(app, auth.headers(b)) for b in buyers] + [reprice])[:-1]

    assert all(r.status_code in (201, 409, 503) for r in responses), [
        (r.status_code, r.get_json()) for r in responses
    ]
    orders = sql(
        "SELECT o.id, o.total, sum(i.line_total) AS lines, min(i.unit_price) AS low,"
        " max(i.unit_price) AS high, sum(i.quantity) AS seats,"
        " (SELECT count(*) FROM ticket t JOIN order_item oi ON oi.id = t.order_item_id"
        "  WHERE oi.order_id = o.id) AS tickets"
        " FROM customer_order o JOIN order_item i ON i.order_id = o.id GROUP BY o.id"
    )
    assert len(orders) == sum(r.status_code == 201 for r in responses)
    for order in orders:
        assert order["total"] == order["lines"], order
        assert str(order["low"]) in ("250.00", "300.00") and order["low"] == order["high"]
        assert order["tickets"] == order["seats"]
    for response in responses:
        if response.status_code == 201:
            body = response.get_json()["data"]
            [row] = [o for o in orders if o["id"] == body["id"]]
            assert body["total"]["amount"] == f"{row['total']:.2f}"
    assert sql("SELECT sold FROM ticket_type") == [
        {"sold": sum(order["seats"] for order in orders)}
    ]
    assert violations(app) == []


def test_an_event_cancelled_while_adding_to_cart_holds_no_seats(app, make, auth, admin, sql):
    event = make.event()
    tier = make.ticket_type(event, capacity=5)
    headers = auth.headers(make.user())

    def cancel():
        response = app.test_client().post(f"/api/admin/events/{event.id}/cancel", headers=admin)
        assert response.status_code == 200, response.get_json()
        return True

    with meanwhile(app, "FROM ticket_type JOIN event", cancel) as f:
        response = app.test_client().post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2}, headers=headers
        )

    assert f
    problem(response, 409, "not_on_sale")
    assert sql("SELECT count(*) AS n FROM cart_item") == [{"n": 0}]


@pytest.mark.parametrize("change", ["put", "delete", "add-other-tier", "add-by-event"])
def test_a_tier_deleted_while_its_cart_changes_is_a_clear_answer_not_a_5xx(
    app, make, auth, admin, sql, change
):
    event = make.event()
    tier = make.ticket_type(event, capacity=5)
    other = make.ticket_type(make.event(), capacity=5)
    user = make.user()
    cart = make.cart([(tier, 1)], user=user)
    [line_id] = [r["id"] for r in sql("SELECT id FROM cart_item WHERE cart_id = :c", c=cart.id)]
    headers = auth.headers(user)

    def delete_tier():
        response = app.test_client().delete(f"/api/admin/ticket-types/{tier.id}", headers=admin)
        assert response.status_code == 204, response.get_json()
        return True

    client = app.test_client()
    with meanwhile(app, "lock_timeout", delete_tier) as f:
        if change == "put":
            response = client.put(
                f"/api/cart/items/{line_id}", json={"quantity": 2}, headers=headers
            )
        elif change == "delete":
            response = client.delete(f"/api/cart/items/{line_id}", headers=headers)
        elif change == "add-other-tier":
            response = client.post(
                "/api/cart/items", json={"ticketTypeId": other.id, "quantity": 1}, headers=headers
            )
        else:
            response = client.post(
                "/api/cart/items", json={"eventId": event.id, "quantity": 1}, headers=headers
            )

    assert f
    assert response.status_code < 500, (response.status_code, response.get_json())
    assert sql("SELECT count(*) AS n FROM cart_item WHERE ticket_type_id = :id", id=tier.id) == [
        {"n": 0}
    ]


@pytest.mark.parametrize("signed_in", [True, False])
def test_seats_sold_while_adding_to_cart_are_not_held_twice(app, make, auth, sql, signed_in):
    tier = make.ticket_type(capacity=4)
    rival = make.user()
    make.cart([(tier, 3)], user=rival, hold_minutes=-1)  # lapsed: the seats look free
    headers = auth.headers(make.user()) if signed_in else {}

    def rival_buys():
        response = checkout(app, auth.headers(rival))()
        assert response.status_code == 201, response.get_json()
        return True

    with meanwhile(app, "FROM ticket_type JOIN event", rival_buys) as f:
        response = app.test_client().post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2}, headers=headers
        )

    assert f
    body = problem(response, 409, "insufficient_availability")
    assert body["available"] == 1
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 3}]
    assert violations(app) == []
