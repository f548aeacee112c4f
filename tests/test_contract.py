"""What the API promises beyond one resource: empty query parameters mean "not given", one shape
per thing, the headers the OpenAPI document lists are sent, and problems say what to do next."""

from decimal import Decimal

from tests.helpers import problem

EMPTY_FILTERS = "q=&city=&category=&from=&to=&minPrice=&maxPrice=&available=&sort=&page=&pageSize="


def test_empty_query_parameters_mean_no_filter(client, make):
    for title in ("Harbour Jazz", "Opera Night"):
        make.ticket_type(make.event(title=title))
    unfiltered = client.get("/api/events").get_json()
    response = client.get(f"/api/events?{EMPTY_FILTERS}")
    assert response.status_code == 200
    assert response.get_json() == unfiltered
    assert unfiltered["meta"]["totalItems"] == 2
    assert (unfiltered["meta"]["page"], unfiltered["meta"]["pageSize"]) == (1, 20)


def test_empty_dates_on_the_sales_report_mean_no_range(client, make, auth):
    admin = auth.headers(make.user(role="admin"))
    make.ticket_type(make.event(title="Harbour Jazz"))
    unfiltered = client.get("/api/admin/reports/sales", headers=admin).get_json()
    response = client.get("/api/admin/reports/sales?from=&to=", headers=admin)
    assert response.status_code == 200
    assert response.get_json() == unfiltered
    assert unfiltered["meta"]["totalItems"] == 1


def test_a_blank_value_is_still_checked_when_it_is_not_empty(client):
    problem(client.get("/api/events?from=%20"), 422, "validation_failed")


def test_an_empty_cart_has_one_shape_whether_or_not_it_was_ever_used(client, make, auth):
    tier = make.ticket_type(make.event(), price=Decimal("250.00"))
    never_used = auth.headers(make.user())
    emptied = auth.headers(make.user())
    client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1}, headers=emptied)
    assert client.delete("/api/cart", headers=emptied).status_code == 200

    no_row = client.get("/api/cart", headers=never_used).get_json()["data"]
    empty_row = client.get("/api/cart", headers=emptied).get_json()["data"]
    for cart in (no_row, empty_row):
        assert cart["items"] == [] and cart["totalQuantity"] == 0
        assert cart["subtotal"] == {"amount": "0.00", "currency": "DKK"}
        assert cart["holdExpiresAt"] is None
    assert set(no_row) == set(empty_row)


def test_a_wrong_token_on_refresh_says_which_token_to_send(client, make, auth):
    user = make.user()
    body = problem(
        client.post("/api/auth/refresh", headers=auth.headers(user)), 401, "wrong_token_type"
    )
    assert "refreshToken" in body["detail"]
    assert "POST /api/auth/refresh" not in body["detail"]  # the route that refused it
    body = problem(
        client.get("/api/auth/me", headers=auth.headers(user, refresh=True)),
        401,
        "wrong_token_type",
    )
    assert "accessToken" in body["detail"]


def test_listing_answers_with_an_etag_and_a_304_when_unchanged(client, make):
    make.ticket_type(make.event())
    first = client.get("/api/events")
    etag = first.headers["ETag"]
    again = client.get("/api/events", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["X-Request-ID"]


def test_sign_in_answers_its_rate_limit_headers(database_url):
    from shop import create_app
    from shop.extensions import db, limiter

    app = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": True}
    )
    try:
        attempt = {"email": "nobody@example.com", "password": "Wrong-Pass-1"}
        response = app.test_client().post("/api/auth/login", json=attempt)
    finally:
        limiter.enabled = False  # one global Limiter: back off for the rest of the suite
        with app.app_context():
            db.engine.dispose()
    problem(response, 401, "invalid_credentials")
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert int(response.headers[name]) >= 0, name


def test_checkout_answers_where_the_order_lives(client, make, auth):
    tier = make.ticket_type(make.event())
    buyer = auth.headers(make.user())
    client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1}, headers=buyer)
    response = client.post("/api/cart/checkout", headers={**buyer, "Idempotency-Key": "k-1"})
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/orders/{response.get_json()['data']['id']}"


def test_a_whole_number_written_with_a_fraction_is_that_number(client, make):
    # JSON (and JSON Schema's `integer`) count 2.0 as the integer 2; "2" and 2.5 stay refused.
    tier = make.ticket_type(make.event())
    body = {"ticketTypeId": float(tier.id), "quantity": 2.0}
    response = client.post("/api/cart/items", json=body)
    assert response.status_code == 201
    assert response.get_json()["data"]["items"][0]["quantity"] == 2
    refused = client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2.5})
    problem(refused, 422, "validation_failed")


def test_an_unknown_event_is_event_not_found_wherever_it_is_named(client):
    problem(client.get("/api/events/2147483646"), 404, "event_not_found")
    missing = client.post("/api/cart/items", json={"eventId": 2147483646, "quantity": 1})
    problem(missing, 404, "event_not_found")
