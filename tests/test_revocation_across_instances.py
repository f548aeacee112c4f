"""Review: two app instances (two processes' worth of state: engines, pools, anything a worker
could keep in memory) on one database. Whatever one instance changes (a logout, a refresh
token used twice, a role, a deleted account, a sale, a hold) the other sees at its next
request: revocation and users are read from PostgreSQL, never from a worker's memory. And
concurrent adds through both instances keep `flask check` clean."""

from __future__ import annotations

import pytest

from shop import create_app
from shop.extensions import db
from tests.factories import DEFAULT_PASSWORD
from tests.helpers import run_in_threads, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]


@pytest.fixture
def instances(database_url):
    """Two apps, as two gunicorn workers would be."""
    apps = [create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url}) for _ in range(2)]
    yield [a.test_client() for a in apps]
    for a in apps:
        with a.app_context():
            db.engine.dispose()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, email: str) -> dict:
    response = client.post("/api/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def refusal(response) -> tuple:
    return (
        response.status_code,
        response.mimetype,
        (response.get_json() or {}).get("code"),
        response.headers.get("WWW-Authenticate"),
    )


def test_a_logout_in_one_instance_is_refused_at_once_in_the_other(instances, make):
    one, other = instances
    tier = make.ticket_type(capacity=10)
    user = make.user()
    tokens = sign_in(one, user.email)
    access = bearer(tokens["accessToken"])
    for _ in range(3):  # warm whatever the other instance might keep
        assert other.get("/api/auth/me", headers=access).status_code == 200
    add = {"ticketTypeId": tier.id, "quantity": 1}
    assert other.post("/api/cart/items", json=add, headers=access).status_code == 201
    assert one.post("/api/auth/logout", headers=access).status_code == 204
    revoked = (401, "application/problem+json", "token_revoked", "Bearer")
    assert refusal(other.get("/api/auth/me", headers=access)) == revoked
    assert refusal(other.post("/api/cart/items", json=add, headers=access)) == revoked
    assert refusal(other.get("/api/cart", headers=access)) == revoked
    assert refusal(other.post("/api/cart/checkout", headers=access)) == revoked
    # the refresh token of that sign-in is over too, in both
    refresh = bearer(tokens["refreshToken"])
    assert refusal(other.post("/api/auth/refresh", headers=refresh)) == revoked


def test_a_refresh_token_reused_in_the_other_instance_ends_the_session_in_both(instances, make):
    one, other = instances
    user = make.user()
    tokens = sign_in(one, user.email)
    first_refresh = bearer(tokens["refreshToken"])
    rotated = one.post("/api/auth/refresh", headers=first_refresh)
    assert rotated.status_code == 200
    new_access = bearer(rotated.get_json()["data"]["accessToken"])
    assert other.get("/api/auth/me", headers=new_access).status_code == 200
    reused = other.post("/api/auth/refresh", headers=first_refresh)
    assert reused.status_code == 401
    for client in (one, other):
        assert refusal(client.get("/api/auth/me", headers=new_access)) == (
            401,
            "application/problem+json",
            "token_revoked",
            "Bearer",
        )
        assert client.get("/api/auth/me", headers=bearer(tokens["accessToken"])).status_code == 401


def test_a_role_change_and_a_deletion_count_in_every_instance(instances, make, sql):
    one, other = instances
    admin = make.user(role="admin")
    headers = bearer(sign_in(one, admin.email)["accessToken"])
    for client in (one, other):
        assert client.get("/api/admin/reports/overview", headers=headers).status_code == 200
    sql("UPDATE app_user SET role = 'customer' WHERE id = :id", id=admin.id)
    for client in (one, other):
        response = client.get("/api/admin/reports/overview", headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (403, "forbidden")
    sql("UPDATE app_user SET role = 'admin' WHERE id = :id", id=admin.id)
    for client in (one, other):
        assert client.get("/api/admin/reports/overview", headers=headers).status_code == 200

    customer = make.user()
    customer_headers = bearer(sign_in(other, customer.email)["accessToken"])
    promoted_before = one.get("/api/admin/reports/overview", headers=customer_headers)
    assert promoted_before.status_code == 403
    sql("UPDATE app_user SET role = 'admin' WHERE id = :id", id=customer.id)
    assert one.get("/api/admin/reports/overview", headers=customer_headers).status_code == 200

    tier = make.ticket_type(capacity=5)
    doomed = make.user()
    doomed_headers = bearer(sign_in(one, doomed.email)["accessToken"])
    assert other.get("/api/auth/me", headers=doomed_headers).status_code == 200
    sql("DELETE FROM refresh_token WHERE user_id = :id", id=doomed.id)
    sql("DELETE FROM app_user WHERE id = :id", id=doomed.id)
    for client in (one, other):
        assert refusal(client.get("/api/auth/me", headers=doomed_headers)) == (
            401,
            "application/problem+json",
            "token_invalid",
            "Bearer",
        )
        add = client.post(
            "/api/cart/items",
            json={"ticketTypeId": tier.id, "quantity": 1},
            headers=doomed_headers,
        )
        assert refusal(add) == (401, "application/problem+json", "token_invalid", "Bearer")
    assert sql("SELECT count(*) AS n FROM cart") == [{"n": 0}]


def test_concurrent_adds_through_two_instances_keep_every_cap_and_the_check_clean(
    instances, make, sql, app
):
    """Twelve buyers on two instances race for 10 seats of one tier (max 3 per order, 4 per
    customer) and 20 of another; guests from one address race its seat cap."""
    scarce = make.ticket_type(capacity=10, max_per_order=3, max_per_customer=4)
    roomy = make.ticket_type(capacity=200, max_per_order=10)
    buyers = [make.user() for _ in range(12)]
    headers = [
        bearer(sign_in(instances[i % 2], u.email)["accessToken"]) for i, u in enumerate(buyers)
    ]

    def buyer(i):
        client = instances[i % 2]
        statuses = []
        for tier, quantity in ((scarce, 3), (roomy, 4), (scarce, 2), (roomy, 7)):
            response = client.post(
                "/api/cart/items",
                json={"ticketTypeId": tier.id, "quantity": quantity},
                headers=headers[i],
            )
            statuses.append((response.status_code, (response.get_json() or {}).get("code")))
        return statuses

    results = run_in_threads(12, buyer)
    for statuses in results:
        for status, code in statuses:
            assert status in (201, 409, 422), (status, code)
    held = sql(
        "SELECT ci.ticket_type_id AS tier, c.user_id, sum(ci.quantity) AS n FROM cart_item ci"
        " JOIN cart c ON c.id = ci.cart_id WHERE c.status = 'active' GROUP BY 1, 2"
    )
    scarce_held = sum(row["n"] for row in held if row["tier"] == scarce.id)
    assert scarce_held <= 10
    for row in held:
        if row["tier"] == scarce.id:
            assert row["n"] <= 3  # maxPerOrder caps the line
        else:
            assert row["n"] <= 10
    # seats shown = capacity - sold - live holds, in both instances, listing and detail
    for client in instances:
        detail = client.get(f"/api/events/{scarce.event_id}").get_json()["data"]
        assert detail["ticketTypes"][0]["available"] == 10 - scarce_held
        listing = client.get("/api/events", query_string={"pageSize": 100}).get_json()["data"]
        shown = {item["id"]: item["ticketsAvailable"] for item in listing}
        assert shown[scarce.event_id] == 10 - scarce_held
    assert violations(app) == []


def test_concurrent_guest_adds_from_one_address_keep_its_cap_across_instances(
    instances, make, sql, app
):
    tier = make.ticket_type(capacity=500, max_per_order=10)
    home = {"REMOTE_ADDR": "198.51.100.23"}

    def guest(i):
        response = instances[i % 2].post(
            "/api/cart/items",
            json={"ticketTypeId": tier.id, "quantity": 6},
            environ_base=home,
        )
        return response.status_code, (response.get_json() or {}).get("data", {}).get("id")

    results = run_in_threads(8, guest)
    assert {status for status, _ in results} <= {201, 409}
    held = sql(
        "SELECT coalesce(sum(ci.quantity), 0) AS n FROM cart_item ci JOIN cart c"
        " ON c.id = ci.cart_id WHERE c.client_address = '198.51.100.23' AND c.status = 'active'"
    )[0]["n"]
    assert held <= 20
    assert held == 6 * sum(1 for status, _ in results if status == 201)
    assert violations(app) == []


def test_a_guest_cart_merged_at_sign_in_in_one_instance_is_gone_for_the_other(instances, make, sql):
    one, other = instances
    tier = make.ticket_type(capacity=30, max_per_order=5)
    user = make.user()
    guest = one.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 4})
    guest_token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    signed_in = one.post(
        "/api/auth/login",
        json={"email": user.email, "password": DEFAULT_PASSWORD},
        headers=guest_token,
    )
    assert signed_in.status_code == 200
    merged = signed_in.get_json()["data"]["cart"]
    assert [line["quantity"] for line in merged["items"]] == [4]
    # the guest token now reaches nothing, in the other instance too
    assert other.get("/api/cart", headers=guest_token).status_code == 404
    access = bearer(signed_in.get_json()["data"]["accessToken"])
    cart = other.get("/api/cart", headers=access).get_json()["data"]
    assert [line["quantity"] for line in cart["items"]] == [4]
    assert sql("SELECT count(*) AS n FROM cart WHERE status = 'active'") == [{"n": 1}]
