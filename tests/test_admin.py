"""Admin API: who may use it, catalogue management rules, event cancellation, reports, check-in."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import now
from tests.helpers import problem


@pytest.fixture
def admin(make, auth):
    return auth.headers(make.user(role="admin"))


@pytest.fixture
def customer(make, auth):
    return auth.headers(make.user())


def buy(client, auth, make, tier, quantity, user=None):
    user = user or make.user()
    headers = auth.headers(user)
    client.post(
        "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": quantity}, headers=headers
    )
    response = client.post("/api/cart/checkout", headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"], headers


def admin_operations(client):
    spec = client.get("/api/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        if path.startswith("/api/admin"):
            for method in operations:
                if method in {"get", "post", "put", "patch", "delete"}:
                    yield method, re.sub(r"{code}", "A" * 32, re.sub(r"{\w+Id}", "1", path))


def test_every_admin_route_refuses_anonymous_and_customers(client, customer):
    operations = list(admin_operations(client))
    assert len(operations) >= 20
    for method, path in operations:
        problem(getattr(client, method)(path, json={}), 401, "token_missing")
        body = problem(getattr(client, method)(path, json={}, headers=customer), 403, "forbidden")
        assert "admin" in body["detail"]


def test_a_demoted_admin_loses_access_at_once(client, make, auth, sql):
    user = make.user(role="admin")
    headers = auth.headers(user)
    assert client.get("/api/admin/events", headers=headers).status_code == 200
    sql("UPDATE app_user SET role = 'customer' WHERE id = :id", id=user.id)
    problem(client.get("/api/admin/events", headers=headers), 403, "forbidden")


# --- categories and venues -------------------------------------------------------------------


def test_category_create_update_delete(client, admin, sql):
    created = client.post(
        "/api/admin/categories", json={"slug": "opera", "name": "Opera"}, headers=admin
    )
    assert created.status_code == 201
    category_id = created.get_json()["data"]["id"]
    problem(
        client.post(
            "/api/admin/categories", json={"slug": "opera", "name": "Other"}, headers=admin
        ),
        409,
        "already_exists",
    )
    problem(
        client.post(
            "/api/admin/categories", json={"slug": "Not A Slug", "name": "X"}, headers=admin
        ),
        422,
        "validation_failed",
    )
    patched = client.patch(
        f"/api/admin/categories/{category_id}", json={"name": "Opera & Ballet"}, headers=admin
    )
    assert patched.get_json()["data"] == {
        "id": category_id,
        "slug": "opera",
        "name": "Opera & Ballet",
    }
    put = client.put(
        f"/api/admin/categories/{category_id}",
        json={"slug": "opera-ballet", "name": "O&B"},
        headers=admin,
    )
    assert put.get_json()["data"]["slug"] == "opera-ballet"
    problem(
        client.put(f"/api/admin/categories/{category_id}", json={"name": "only"}, headers=admin),
        422,
        "validation_failed",
    )
    assert client.delete(f"/api/admin/categories/{category_id}", headers=admin).status_code == 204
    assert sql("SELECT count(*) AS n FROM category") == [{"n": 0}]
    problem(client.delete(f"/api/admin/categories/{category_id}", headers=admin), 404, "not_found")


def test_category_and_venue_in_use_cannot_be_deleted(client, admin, make, sql):
    event = make.event()
    problem(
        client.delete(f"/api/admin/categories/{event.category_id}", headers=admin), 409, "in_use"
    )
    problem(client.delete(f"/api/admin/venues/{event.venue_id}", headers=admin), 409, "in_use")
    assert sql("SELECT count(*) AS n FROM venue") == [{"n": 1}]


def test_venue_create_and_update_reaches_search(client, admin, make):
    created = client.post(
        "/api/admin/venues",
        json={"name": "Operaen", "address": "Ekvipagemestervej 10", "city": "Copenhagen"},
        headers=admin,
    )
    assert created.status_code == 201
    venue_id = created.get_json()["data"]["id"]
    problem(
        client.post(
            "/api/admin/venues",
            json={"name": "Operaen", "address": "Elsewhere", "city": "Copenhagen"},
            headers=admin,
        ),
        409,
        "already_exists",
    )
    make.ticket_type(make.event(venue_id=venue_id))
    client.patch(f"/api/admin/venues/{venue_id}", json={"city": "Helsingør"}, headers=admin)
    found = client.get("/api/events", query_string={"q": "helsingor"}).get_json()["data"]
    assert [event["venue"]["city"] for event in found] == ["Helsingør"]


# --- events and ticket types ------------------------------------------------------------------


@pytest.fixture
def event_body(make):
    venue, category = make.venue(), make.category()
    starts = now() + timedelta(days=20)
    return {
        "title": "New Year Gala",
        "description": "Fireworks.",
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(hours=4)).isoformat(),
        "venueId": venue.id,
        "categoryId": category.id,
    }


def test_event_lifecycle_draft_tiers_publish(client, admin, event_body):
    created = client.post("/api/admin/events", json=event_body, headers=admin)
    assert created.status_code == 201
    event = created.get_json()["data"]
    assert event["status"] == "draft" and event["ticketTypes"] == []
    assert client.get(f"/api/events/{event['id']}").status_code == 404  # drafts are not public
    problem(
        client.post(f"/api/admin/events/{event['id']}/publish", headers=admin),
        409,
        "invalid_status_change",
    )
    tier = client.post(
        f"/api/admin/events/{event['id']}/ticket-types",
        json={"name": "Standard", "price": "450.00", "capacity": 100, "maxPerOrder": 6},
        headers=admin,
    )
    assert tier.status_code == 201
    assert tier.get_json()["data"]["price"] == {"amount": "450.00", "currency": "DKK"}
    published = client.post(f"/api/admin/events/{event['id']}/publish", headers=admin)
    assert published.get_json()["data"]["status"] == "published"
    public = client.get(f"/api/events/{event['id']}").get_json()["data"]
    assert public["priceFrom"] == {"amount": "450.00", "currency": "DKK"}
    problem(
        client.post(f"/api/admin/events/{event['id']}/publish", headers=admin),
        409,
        "invalid_status_change",
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endsAt": "2020-01-01T00:00:00+00:00"}, "endsAt"),
        ({"venueId": 999999}, "venueId"),
        ({"startsAt": "2027-01-01T10:00:00"}, "startsAt"),
        ({"title": "  "}, "title"),
        ({"status": "published"}, "status"),
    ],
)
def test_invalid_event_changes_are_422(client, admin, event_body, change, field):
    event_id = client.post("/api/admin/events", json=event_body, headers=admin).get_json()["data"][
        "id"
    ]
    body = problem(
        client.patch(f"/api/admin/events/{event_id}", json=change, headers=admin),
        422,
        "validation_failed",
    )
    assert field in body["errors"]


def test_put_replaces_and_patch_changes_part_of_an_event(client, admin, event_body):
    event_id = client.post("/api/admin/events", json=event_body, headers=admin).get_json()["data"][
        "id"
    ]
    replaced = client.put(
        f"/api/admin/events/{event_id}", json={**event_body, "title": "Gala 2"}, headers=admin
    )
    assert replaced.get_json()["data"]["title"] == "Gala 2"
    patched = client.patch(
        f"/api/admin/events/{event_id}", json={"description": "Black tie."}, headers=admin
    )
    assert patched.get_json()["data"]["description"] == "Black tie."
    assert patched.get_json()["data"]["title"] == "Gala 2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "price": "-1.00", "capacity": 10}, "price"),
        ({"name": "X", "price": "10.00", "capacity": 0}, "capacity"),
        ({"name": "X", "price": "ten", "capacity": 10}, "price"),
        ({"name": "X", "price": "10.00", "capacity": 10, "sold": 5}, "sold"),
        (
            {
                "name": "X",
                "price": "10.00",
                "capacity": 10,
                "salesStart": "2027-02-01T00:00:00Z",
                "salesEnd": "2027-01-01T00:00:00Z",
            },
            "salesEnd",
        ),
    ],
)
def test_invalid_ticket_types_are_422(client, admin, make, sql, body, field):
    event = make.event(status="draft")
    response = client.post(f"/api/admin/events/{event.id}/ticket-types", json=body, headers=admin)
    assert field in problem(response, 422, "validation_failed")["errors"]
    assert sql("SELECT count(*) AS n FROM ticket_type") == [{"n": 0}]


def test_capacity_never_below_sold(client, admin, make, auth, sql):
    tier = make.ticket_type(make.event(), capacity=10)
    buy(client, auth, make, tier, 4)
    body = problem(
        client.patch(f"/api/admin/ticket-types/{tier.id}", json={"capacity": 3}, headers=admin),
        409,
        "capacity_below_sold",
    )
    assert "4" in body["detail"]
    assert (
        client.patch(
            f"/api/admin/ticket-types/{tier.id}", json={"capacity": 4}, headers=admin
        ).status_code
        == 200
    )
    assert sql("SELECT capacity, sold FROM ticket_type") == [{"capacity": 4, "sold": 4}]


def test_what_has_sales_cannot_be_deleted(client, admin, make, auth, sql):
    tier = make.ticket_type(make.event())
    buy(client, auth, make, tier, 1)
    problem(client.delete(f"/api/admin/ticket-types/{tier.id}", headers=admin), 409, "has_sales")
    problem(client.delete(f"/api/admin/events/{tier.event_id}", headers=admin), 409, "has_sales")
    assert sql("SELECT count(*) AS n FROM ticket_type") == [{"n": 1}]


def test_event_without_sales_is_deleted_with_its_tiers_and_cart_lines(client, admin, make, sql):
    tier = make.ticket_type(make.event())
    make.cart([(tier, 2)])
    assert client.delete(f"/api/admin/events/{tier.event_id}", headers=admin).status_code == 204
    assert sql(
        "SELECT (SELECT count(*) FROM event) + (SELECT count(*) FROM ticket_type)"
        " + (SELECT count(*) FROM cart_item) AS n"
    ) == [{"n": 0}]


def test_duplicate_tier_name_is_409(client, admin, make):
    tier = make.ticket_type(make.event(), name="VIP")
    response = client.post(
        f"/api/admin/events/{tier.event_id}/ticket-types",
        json={"name": "VIP", "price": "1.00", "capacity": 1},
        headers=admin,
    )
    problem(response, 409, "already_exists")


def test_cancelling_an_event_voids_its_tickets_and_cancels_orders_that_only_hold_it(
    client, admin, make, auth, sql
):
    doomed = make.ticket_type(make.event(title="Doomed"), capacity=20)
    other = make.ticket_type(make.event(title="Other"), capacity=20)
    only_doomed, _ = buy(client, auth, make, doomed, 2)
    user = make.user()
    headers = auth.headers(user)
    client.post("/api/cart/items", json={"ticketTypeId": doomed.id, "quantity": 1}, headers=headers)
    client.post("/api/cart/items", json={"ticketTypeId": other.id, "quantity": 1}, headers=headers)
    mixed = client.post("/api/cart/checkout", headers=headers).get_json()["data"]

    response = client.post(f"/api/admin/events/{doomed.event_id}/cancel", headers=admin)
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["status"] == "cancelled"
    assert data["cancellation"] == {"ticketsVoided": 3, "ordersCancelled": 1}
    # The rest is the event as every admin route shows it, ticket types included.
    shown = client.get(f"/api/admin/events/{doomed.event_id}", headers=admin).get_json()["data"]
    assert {key: value for key, value in data.items() if key != "cancellation"} == shown
    statuses = {row["id"]: row["status"] for row in sql("SELECT id, status FROM customer_order")}
    assert statuses == {only_doomed["id"]: "cancelled", mixed["id"]: "confirmed"}
    tickets = sql(
        "SELECT oi.event_id, t.status FROM ticket t"
        " JOIN order_item oi ON oi.id = t.order_item_id ORDER BY t.id"
    )
    assert {(t["event_id"], t["status"]) for t in tickets} == {
        (doomed.event_id, "void"),
        (other.event_id, "valid"),
    }
    assert sql("SELECT sold FROM ticket_type WHERE id = :id", id=doomed.id) == [{"sold": 0}]
    assert client.get(f"/api/events/{doomed.event_id}").get_json()["data"]["status"] == "cancelled"
    problem(
        client.post(f"/api/admin/events/{doomed.event_id}/cancel", headers=admin),
        409,
        "invalid_status_change",
    )
    problem(
        client.patch(f"/api/admin/events/{doomed.event_id}", json={"title": "x"}, headers=admin),
        409,
        "invalid_status_change",
    )


def test_admin_event_list_includes_drafts(client, admin, make):
    make.event(status="draft", title="Secret")
    make.event(title="Public")
    titles = [e["title"] for e in client.get("/api/admin/events", headers=admin).get_json()["data"]]
    assert set(titles) == {"Secret", "Public"}
    drafts = client.get("/api/admin/events?status=draft", headers=admin).get_json()["data"]
    assert [e["title"] for e in drafts] == ["Secret"]


# --- reports --------------------------------------------------------------------------------------


@pytest.fixture
def scenario(client, make, auth):
    """Event A: Standard 100 seats at 200.00 (3 + 2 sold in two orders, 4 held), VIP 10 at
    500.00 (1 sold, in the first order). Event B (later): 50 seats, nothing sold."""
    a = make.event(title="A", starts_at=now() + timedelta(days=10))
    standard = make.ticket_type(a, name="Standard", price=Decimal("200.00"), capacity=100)
    vip = make.ticket_type(a, name="VIP", price=Decimal("500.00"), capacity=10)
    b = make.event(title="B", starts_at=now() + timedelta(days=20))
    make.ticket_type(b, name="Standard", price=Decimal("100.00"), capacity=50)
    user = make.user()
    headers = auth.headers(user)
    client.post(
        "/api/cart/items", json={"ticketTypeId": standard.id, "quantity": 3}, headers=headers
    )
    client.post("/api/cart/items", json={"ticketTypeId": vip.id, "quantity": 1}, headers=headers)
    client.post("/api/cart/checkout", headers=headers)
    buy(client, auth, make, standard, 2)
    make.cart([(standard, 4)])
    return {"a": a, "b": b, "standard": standard, "vip": vip}


def test_sales_report_numbers(client, admin, scenario):
    body = client.get("/api/admin/reports/sales", headers=admin).get_json()
    assert body["meta"]["totalItems"] == 2
    a, b = body["data"]
    assert (a["title"], b["title"]) == ("A", "B")
    assert {
        k: a[k] for k in ("capacity", "sold", "held", "remaining", "orders", "sellThrough")
    } == {
        "capacity": 110,
        "sold": 6,
        "held": 4,
        "remaining": 100,
        "orders": 2,
        "sellThrough": 0.0545,
    }
    assert a["revenue"] == {"amount": "1500.00", "currency": "DKK"}
    standard, vip = a["ticketTypes"]
    assert (standard["sold"], standard["held"], standard["remaining"], standard["orders"]) == (
        5,
        4,
        91,
        2,
    )
    assert standard["revenue"]["amount"] == "1000.00" and standard["sellThrough"] == 0.05
    assert (vip["sold"], vip["revenue"]["amount"], vip["orders"]) == (1, "500.00", 1)
    assert b["sold"] == 0 and b["revenue"]["amount"] == "0.00" and b["remaining"] == 50


def test_sales_report_filters_by_event_start_and_pages(client, admin, scenario):
    since = (now() + timedelta(days=15)).date().isoformat()
    body = client.get(f"/api/admin/reports/sales?from={since}", headers=admin).get_json()
    assert [e["title"] for e in body["data"]] == ["B"]
    page = client.get("/api/admin/reports/sales?pageSize=1&page=2", headers=admin).get_json()
    assert [e["title"] for e in page["data"]] == ["B"] and page["meta"]["totalPages"] == 2
    problem(
        client.get("/api/admin/reports/sales?from=2027-02-01&to=2027-01-01", headers=admin),
        422,
        "validation_failed",
    )


def test_sales_report_as_csv(client, admin, scenario):
    response = client.get("/api/admin/reports/sales", headers={**admin, "Accept": "text/csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["event_title"], r["ticket_type"], r["sold"], r["revenue"]) for r in rows] == [
        ("A", "Standard", "5", "1000.00"),
        ("A", "VIP", "1", "500.00"),
        ("B", "Standard", "0", "0.00"),
    ]


def test_sales_report_is_one_query_whatever_the_page_size(client, admin, make, count_queries):
    for _ in range(12):
        make.ticket_type(make.event())
    with count_queries() as few:
        client.get("/api/admin/reports/sales?pageSize=2", headers=admin)
    with count_queries() as many:
        client.get("/api/admin/reports/sales?pageSize=12", headers=admin)
    assert len(few) == len(many)


def test_overview(client, admin, scenario):
    data = client.get("/api/admin/reports/overview", headers=admin).get_json()["data"]
    totals = data["totals"]
    assert (totals["orders"], totals["tickets"], totals["cancelledOrders"]) == (2, 6, 0)
    assert totals["revenue"] == {"amount": "1500.00", "currency": "DKK"}
    assert (
        data["topEvents"][0]["title"] == "A"
        and data["topEvents"][0]["revenue"]["amount"] == "1500.00"
    )
    assert data["salesPerDay"][-1]["orders"] == 2
    assert data["salesPerDay"][-1]["tickets"] == 6


# --- check-in -------------------------------------------------------------------------------------


def test_check_in_once_then_409_with_the_first_scan_time(client, admin, make, auth):
    tier = make.ticket_type(make.event(title="Gig"))
    order, _ = buy(client, auth, make, tier, 1)
    code = order["items"][0]["tickets"][0]["code"]
    first = client.post(f"/api/admin/tickets/{code.lower()}/check-in", headers=admin)
    assert first.status_code == 200
    data = first.get_json()["data"]
    assert (
        data["status"] == "used" and data["eventTitle"] == "Gig" and data["orderId"] == order["id"]
    )
    second = problem(
        client.post(f"/api/admin/tickets/{code}/check-in", headers=admin),
        409,
        "ticket_already_used",
    )
    assert (
        second["firstCheckedInAt"] == data["checkedInAt"].replace("Z", "+00:00")
        or second["firstCheckedInAt"]
    )
    assert "already scanned" in second["detail"]


def test_void_and_unknown_tickets_are_refused(client, admin, make, auth):
    tier = make.ticket_type(make.event())
    order, headers = buy(client, auth, make, tier, 1)
    client.post(f"/api/orders/{order['id']}/cancel", headers=headers)
    code = order["items"][0]["tickets"][0]["code"]
    problem(client.post(f"/api/admin/tickets/{code}/check-in", headers=admin), 409, "ticket_void")
    problem(
        client.post(f"/api/admin/tickets/{'B' * 32}/check-in", headers=admin),
        404,
        "ticket_not_found",
    )


def test_scanned_order_cannot_be_cancelled(client, admin, make, auth):
    tier = make.ticket_type(make.event())
    order, headers = buy(client, auth, make, tier, 1)
    client.post(
        f"/api/admin/tickets/{order['items'][0]['tickets'][0]['code']}/check-in", headers=admin
    )
    problem(
        client.post(f"/api/orders/{order['id']}/cancel", headers=headers),
        409,
        "order_not_cancellable",
    )
