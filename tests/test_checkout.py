"""Checkout, orders and tickets through the API: all or nothing, snapshots, idempotency,
and nobody sees anyone else's orders."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import now
from tests.helpers import problem


@pytest.fixture
def buyer(make, auth):
    user = make.user()
    return {"user": user, "headers": auth.headers(user)}


@pytest.fixture
def tier(make):
    event = make.event(title="Opera Night")
    return make.ticket_type(event, name="Balcony", price=Decimal("300.00"), capacity=10)


def put_in_cart(client, headers, tier, quantity):
    response = client.post(
        "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": quantity}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def checkout(client, headers, body=None, **extra_headers):
    return client.post("/api/cart/checkout", json=body, headers={**headers, **extra_headers})


def test_checkout_creates_a_confirmed_order_with_tickets(client, buyer, tier, make, sql):
    other = make.ticket_type(
        tier_event := make.event(title="Ballet"), name="Stalls", price=Decimal("150.50")
    )
    put_in_cart(client, buyer["headers"], tier, 2)
    put_in_cart(client, buyer["headers"], other, 1)
    response = checkout(client, buyer["headers"])
    assert response.status_code == 201
    order = response.get_json()["data"]
    assert response.headers["Location"] == f"/api/orders/{order['id']}"
    assert order["status"] == "confirmed"
    assert order["total"] == {"amount": "750.50", "currency": "DKK"}
    assert order["ticketCount"] == 3
    first = order["items"][0]
    assert first["eventTitle"] == "Opera Night" and first["ticketTypeName"] == "Balcony"
    assert first["unitPrice"] == {"amount": "300.00", "currency": "DKK"}
    assert first["lineTotal"] == {"amount": "600.00", "currency": "DKK"}
    codes = [t["code"] for item in order["items"] for t in item["tickets"]]
    assert len(codes) == len(set(codes)) == 3
    assert all(re.fullmatch(r"[A-Z2-7]{32}", code) for code in codes)
    assert all(t["status"] == "valid" for item in order["items"] for t in item["tickets"])
    assert sql("SELECT sold FROM ticket_type ORDER BY id") == [{"sold": 2}, {"sold": 1}]
    assert sql("SELECT status, hold_expires_at FROM cart") == [
        {"status": "checked_out", "hold_expires_at": None}
    ]
    assert client.get("/api/cart", headers=buyer["headers"]).get_json()["data"]["items"] == []
    assert tier_event


def test_the_checkout_answer_is_byte_for_byte_the_orders_schema_dump(client, buyer, tier, make):
    """The checkout's 201 body is built by hand (shop/orders/presenter.py, a fast path): it must
    be exactly what OrderEnvelopeSchema makes of the same order (GET /api/orders/{id}), key
    order and formats included."""
    other = make.ticket_type(make.event(title="Ballet"), name="Stalls", price=Decimal("150.5"))
    put_in_cart(client, buyer["headers"], tier, 2)
    put_in_cart(client, buyer["headers"], other, 1)
    placed = checkout(client, buyer["headers"])
    assert placed.status_code == 201
    shown = client.get(placed.headers["Location"], headers=buyer["headers"])
    assert shown.status_code == 200
    assert placed.get_data(as_text=True) == shown.get_data(as_text=True)
    assert placed.mimetype == shown.mimetype == "application/json"


def test_order_keeps_its_snapshot_when_the_catalogue_changes(client, buyer, tier, sql):
    put_in_cart(client, buyer["headers"], tier, 1)
    order_id = checkout(client, buyer["headers"]).get_json()["data"]["id"]
    sql("UPDATE ticket_type SET price = 999, name = 'Renamed' WHERE id = :id", id=tier.id)
    sql("UPDATE event SET title = 'Renamed event' WHERE id = :id", id=tier.event_id)
    order = client.get(f"/api/orders/{order_id}", headers=buyer["headers"]).get_json()["data"]
    assert order["items"][0]["eventTitle"] == "Opera Night"
    assert order["items"][0]["ticketTypeName"] == "Balcony"
    assert order["total"]["amount"] == "300.00"


def test_empty_cart_is_422(client, buyer, sql):
    problem(checkout(client, buyer["headers"]), 422, "cart_empty")
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]


def test_checkout_needs_sign_in(client):
    problem(checkout(client, {}), 401, "token_missing")


def test_not_enough_seats_is_409_listing_the_lines_and_leaves_no_trace(
    client, buyer, tier, make, sql
):
    fine = make.ticket_type(make.event(), capacity=50)
    put_in_cart(client, buyer["headers"], fine, 2)
    line = put_in_cart(client, buyer["headers"], tier, 4)["items"][1]
    sql("UPDATE cart SET hold_expires_at = now() - interval '1 minute'")  # my hold lapsed ...
    sql("UPDATE ticket_type SET sold = 8 WHERE id = :id", id=tier.id)  # ... and others bought
    body = problem(checkout(client, buyer["headers"]), 409, "insufficient_availability")
    assert body["errors"]["lines"] == [
        {
            "itemId": line["id"],
            "ticketTypeId": tier.id,
            "ticketTypeName": "Balcony",
            "requested": 4,
            "available": 2,
        }
    ]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    assert sql("SELECT count(*) AS n FROM ticket") == [{"n": 0}]
    assert sql("SELECT sold FROM ticket_type WHERE id = :id", id=fine.id) == [{"sold": 0}]
    assert sql("SELECT sold FROM ticket_type WHERE id = :id", id=tier.id) == [{"sold": 8}]
    assert sql("SELECT status FROM cart") == [{"status": "active"}]
    assert sql("SELECT quantity FROM cart_item ORDER BY id") == [{"quantity": 2}, {"quantity": 4}]


def test_other_carts_live_holds_count_against_checkout(client, buyer, tier, make, sql):
    put_in_cart(client, buyer["headers"], tier, 5)
    sql("UPDATE cart SET hold_expires_at = now() - interval '1 minute'")
    make.cart([(tier, 6)])  # someone else holds six of the ten now
    body = problem(checkout(client, buyer["headers"]), 409, "insufficient_availability")
    assert body["errors"]["lines"][0]["available"] == 4


def test_own_hold_counts_for_me(client, buyer, tier, sql):
    put_in_cart(client, buyer["headers"], tier, 10)
    assert checkout(client, buyer["headers"]).status_code == 201
    assert sql("SELECT sold, capacity FROM ticket_type") == [{"sold": 10, "capacity": 10}]


def test_tickets_no_longer_on_sale_are_409(client, buyer, tier, sql):
    put_in_cart(client, buyer["headers"], tier, 1)
    sql("UPDATE event SET status = 'cancelled' WHERE id = :id", id=tier.event_id)
    body = problem(checkout(client, buyer["headers"]), 409, "not_on_sale")
    assert body["errors"]["lines"][0]["ticketTypeId"] == tier.id
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]


def test_expected_total_mismatch_is_409_price_changed(client, buyer, tier, sql):
    put_in_cart(client, buyer["headers"], tier, 2)
    sql("UPDATE ticket_type SET price = 325 WHERE id = :id", id=tier.id)
    body = problem(
        checkout(
            client, buyer["headers"], {"expectedTotal": {"amount": "600.00", "currency": "DKK"}}
        ),
        409,
        "price_changed",
    )
    assert body["expectedTotal"] == {"amount": "600.00", "currency": "DKK"}
    assert body["currentTotal"] == {"amount": "650.00", "currency": "DKK"}
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 0}]
    ok = checkout(
        client, buyer["headers"], {"expectedTotal": {"amount": "650.00", "currency": "DKK"}}
    )
    assert ok.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"expectedTotal": {"amount": "abc", "currency": "DKK"}},
        {"expectedTotal": {"amount": "1"}},
        {"total": 1},
    ],
)
def test_bad_checkout_bodies_are_422(client, buyer, tier, body):
    put_in_cart(client, buyer["headers"], tier, 1)
    problem(checkout(client, buyer["headers"], body), 422, "validation_failed")


def test_one_cart_yields_one_order(client, buyer, tier, sql):
    put_in_cart(client, buyer["headers"], tier, 1)
    assert checkout(client, buyer["headers"]).status_code == 201
    problem(checkout(client, buyer["headers"]), 422, "cart_empty")
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 1}]


# --- idempotency --------------------------------------------------------------------------------


def test_idempotent_retry_replays_the_first_answer_byte_for_byte(client, buyer, tier, sql):
    put_in_cart(client, buyer["headers"], tier, 2)
    first = checkout(client, buyer["headers"], **{"Idempotency-Key": "order-1"})
    again = checkout(client, buyer["headers"], **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert sql("SELECT count(*) AS n FROM customer_order") == [{"n": 1}]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 2}]


def test_same_key_with_another_request_is_422(client, buyer, tier):
    put_in_cart(client, buyer["headers"], tier, 1)
    checkout(client, buyer["headers"], **{"Idempotency-Key": "k"})
    other = checkout(
        client,
        buyer["headers"],
        {"expectedTotal": {"amount": "1.00", "currency": "DKK"}},
        **{"Idempotency-Key": "k"},
    )
    problem(other, 422, "idempotency_key_reused")


def test_keys_are_per_user(client, buyer, tier, make, auth):
    second = auth.headers(make.user())
    put_in_cart(client, buyer["headers"], tier, 1)
    put_in_cart(client, second, tier, 1)
    assert checkout(client, buyer["headers"], **{"Idempotency-Key": "shared"}).status_code == 201
    response = checkout(client, second, **{"Idempotency-Key": "shared"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers


def test_refusals_are_stored_and_replayed_too(client, buyer):
    first = checkout(client, buyer["headers"], **{"Idempotency-Key": "empty"})
    again = checkout(client, buyer["headers"], **{"Idempotency-Key": "empty"})
    problem(first, 422, "cart_empty")
    problem(again, 422, "cart_empty")
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_claim_stored_without_an_answer_is_taken_over(client, buyer, tier, sql):
    # Claims are no longer committed before their answer; one left by an older version (or a
    # SQL console) blocks nothing: nobody is working on it.
    put_in_cart(client, buyer["headers"], tier, 1)
    sql(
        "INSERT INTO idempotency_key (user_id, key, request_fingerprint, created_at)"
        " VALUES (:u, 'old', :f, now())",
        u=buyer["user"].id,
        f=_fingerprint(b""),
    )
    assert checkout(client, buyer["headers"], **{"Idempotency-Key": "old"}).status_code == 201
    replay = checkout(client, buyer["headers"], **{"Idempotency-Key": "old"})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"


def test_order_cancel_is_idempotent_too(client, buyer, tier, sql):
    put_in_cart(client, buyer["headers"], tier, 2)
    order_id = checkout(client, buyer["headers"]).get_json()["data"]["id"]
    headers = {**buyer["headers"], "Idempotency-Key": "cancel-1"}
    first = client.post(f"/api/orders/{order_id}/cancel", headers=headers)
    again = client.post(f"/api/orders/{order_id}/cancel", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    # Without the key, a second cancel is the 409 it always was.
    problem(
        client.post(f"/api/orders/{order_id}/cancel", headers=buyer["headers"]),
        409,
        "order_not_cancellable",
    )


def _fingerprint(body: bytes) -> str:
    from shop.idempotency_store import fingerprint

    return fingerprint("POST", "/api/cart/checkout", body)


def test_bad_idempotency_key_is_422(client, buyer):
    problem(
        checkout(client, buyer["headers"], **{"Idempotency-Key": "x" * 256}),
        422,
        "validation_failed",
    )


# --- orders and tickets ---------------------------------------------------------------------------


def test_orders_are_listed_newest_first(client, buyer, tier, make):
    ids = []
    for _ in range(3):
        put_in_cart(client, buyer["headers"], tier, 1)
        ids.append(checkout(client, buyer["headers"]).get_json()["data"]["id"])
    body = client.get("/api/orders?pageSize=2", headers=buyer["headers"]).get_json()
    assert [order["id"] for order in body["data"]] == [ids[2], ids[1]]
    assert body["meta"] == {"page": 1, "pageSize": 2, "totalItems": 3, "totalPages": 2}
    assert "tickets" not in body["data"][0]["items"][0]


def test_someone_elses_order_is_404_everywhere(client, buyer, tier, make, auth, sql):
    put_in_cart(client, buyer["headers"], tier, 1)
    order_id = checkout(client, buyer["headers"]).get_json()["data"]["id"]
    stranger = auth.headers(make.user())
    problem(client.get(f"/api/orders/{order_id}", headers=stranger), 404, "order_not_found")
    problem(client.post(f"/api/orders/{order_id}/cancel", headers=stranger), 404, "order_not_found")
    assert client.get("/api/orders", headers=stranger).get_json()["data"] == []
    assert client.get("/api/tickets", headers=stranger).get_json()["data"] == []
    assert sql("SELECT status FROM customer_order") == [{"status": "confirmed"}]
    problem(client.get("/api/orders/999999", headers=buyer["headers"]), 404, "order_not_found")


def test_cancel_releases_seats_and_voids_tickets(client, buyer, tier, sql):
    put_in_cart(client, buyer["headers"], tier, 3)
    order_id = checkout(client, buyer["headers"]).get_json()["data"]["id"]
    response = client.post(f"/api/orders/{order_id}/cancel", headers=buyer["headers"])
    assert response.status_code == 200
    order = response.get_json()["data"]
    assert order["status"] == "cancelled" and order["cancelledAt"]
    assert {t["status"] for t in order["items"][0]["tickets"]} == {"void"}
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]
    body = problem(
        client.post(f"/api/orders/{order_id}/cancel", headers=buyer["headers"]),
        409,
        "order_not_cancellable",
    )
    assert "already cancelled" in body["detail"]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 0}]


def test_cancel_after_the_event_started_is_409(client, buyer, tier, sql):
    put_in_cart(client, buyer["headers"], tier, 1)
    order_id = checkout(client, buyer["headers"]).get_json()["data"]["id"]
    sql(
        "UPDATE event SET starts_at = now() - interval '1 minute',"
        " ends_at = now() + interval '2 hours'"
    )
    body = problem(
        client.post(f"/api/orders/{order_id}/cancel", headers=buyer["headers"]),
        409,
        "order_not_cancellable",
    )
    assert "started" in body["detail"]
    assert sql("SELECT sold FROM ticket_type") == [{"sold": 1}]


def test_tickets_list_upcoming_first(client, buyer, make, sql):
    later = make.ticket_type(make.event(title="Later", starts_at=now() + timedelta(days=40)))
    sooner = make.ticket_type(make.event(title="Sooner", starts_at=now() + timedelta(days=4)))
    put_in_cart(client, buyer["headers"], later, 1)
    put_in_cart(client, buyer["headers"], sooner, 2)
    checkout(client, buyer["headers"])
    body = client.get("/api/tickets", headers=buyer["headers"]).get_json()
    assert [t["event"]["title"] for t in body["data"]] == ["Sooner", "Sooner", "Later"]
    ticket = body["data"][0]
    assert set(ticket) == {"id", "code", "status", "checkedInAt", "orderId", "event", "ticketType"}
    assert ticket["ticketType"] == {"id": sooner.id, "name": sooner.name}
    assert body["meta"]["totalItems"] == 3
