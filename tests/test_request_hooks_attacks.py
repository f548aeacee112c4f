"""Attacks on the request hooks and the public reads' `$n` statements:
values with `%`, `$` and NUL, CORS, ETag variants, request ids and problem+json on errors.
Run without statement listeners (no count_queries), so the public reads take the fast path
(psycopg's RawCursor with `$n` placeholders)."""

from decimal import Decimal

import pytest

from tests.helpers import problem

ODD_VALUES = ["100%", "%", "%%", "$1", "$$", "%(city)s", "$1::text", "a%2525", "'; --"]


@pytest.fixture
def odd_event(make):
    venue = make.venue(city="100% $1 Town")
    category = make.category(slug="dollar-1", name="$1 %s deals")
    event = make.event(title="50% off $1 deals", venue_id=venue.id, category_id=category.id)
    make.ticket_type(event, price=Decimal("10.00"))
    return event


@pytest.mark.parametrize("name", ["q", "city", "category"])
@pytest.mark.parametrize("value", ODD_VALUES)
def test_public_listing_with_percent_and_dollar_in_values_is_never_a_500(
    client, odd_event, name, value
):
    response = client.get("/api/events", query_string={name: value})
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    if response.status_code == 422:
        assert response.mimetype == "application/problem+json"
    else:
        assert response.get_json()["meta"]["totalItems"] >= 0


def test_a_city_with_percent_and_dollar_finds_exactly_its_events(client, odd_event, make):
    make.event(title="Other", venue_id=make.venue(city="100").id)
    body = client.get("/api/events", query_string={"city": "100% $1 Town"}).get_json()
    assert [e["id"] for e in body["data"]] == [odd_event.id]
    assert body["meta"]["totalItems"] == 1
    # `%` is a character, not a LIKE wildcard
    assert client.get("/api/events", query_string={"city": "100%"}).get_json()["data"] == []


def test_the_same_listing_twice_and_ten_times_answers_the_same(client, odd_event):
    """psycopg prepares a statement it has seen 5 times: the $n text must still bind right."""
    bodies = {
        client.get("/api/events", query_string={"city": "100% $1 Town"}).get_data(as_text=True)
        for _ in range(12)
    }
    assert len(bodies) == 1
    assert odd_event.title in bodies.pop()
    details = {client.get(f"/api/events/{odd_event.id}").status_code for _ in range(12)}
    assert details == {200}


@pytest.mark.parametrize(
    "query",
    ["q=%00", "city=a%00b", "category=%00x", "q=ok&city=%00", "sort=starts_at%00", "page=1%00"],
)
def test_nul_anywhere_in_a_query_value_is_a_422_problem(client, query):
    body = problem(client.get(f"/api/events?{query}"), 422)
    assert "NUL" in body["detail"]


def test_an_escaped_percent_00_is_not_a_nul(client, odd_event):
    response = client.get("/api/events?q=%2500")
    assert response.status_code == 200


def test_nul_in_a_query_key_is_refused_not_a_500(client):
    response = client.get("/api/events?a%00b=1")
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.delete("/api/events"),  # 405
        lambda c: c.get("/api/nowhere"),  # 404
        lambda c: c.get("/api/events?page=0"),  # 422
        lambda c: c.get("/api/events?sort=nope"),  # 422
        lambda c: c.post(
            "/api/auth/login", data="{bad", headers={"Content-Type": "application/json"}
        ),
        lambda c: c.post(
            "/api/auth/login", data="x" * (2 * 1024 * 1024), content_type="application/json"
        ),
    ],
)
def test_every_error_is_problem_json_with_a_request_id(client, call):
    response = call(client)
    assert response.status_code >= 400
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)[:200]
    assert len(response.headers["X-Request-ID"]) >= 8
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_request_ids_are_echoed_when_sane_and_replaced_when_not(client):
    assert (
        client.get("/api/events", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    for insane in ["", "x" * 500, "a b", "<script>"]:
        made = client.get("/api/events", headers={"X-Request-ID": insane}).headers["X-Request-ID"]
        assert made != insane
        assert len(made) == 32 and int(made, 16) >= 0
    ids = {client.get("/api/events").headers["X-Request-ID"] for _ in range(20)}
    assert len(ids) == 20


def test_cors_allowed_none_and_disallowed_origins_and_preflights(cors_client):
    allowed = cors_client.get("/api/events", headers={"Origin": "https://admin.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://admin.example"
    assert "Origin" in allowed.headers["Vary"]
    none = cors_client.get("/api/events")
    assert "Access-Control-Allow-Origin" not in none.headers and "Origin" in none.headers["Vary"]
    evil = cors_client.get("/api/events", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil.headers and "Origin" in evil.headers["Vary"]
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key",
    }
    ok = cors_client.options(
        "/api/cart/checkout", headers={"Origin": "https://shop.example", **preflight}
    )
    assert ok.status_code in (200, 204)
    assert ok.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "idempotency-key" in ok.headers["Access-Control-Allow-Headers"].lower()
    bad = cors_client.options(
        "/api/cart/checkout", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "Access-Control-Allow-Origin" not in bad.headers
    etag = allowed.headers["ETag"]
    not_modified = cors_client.get(
        "/api/events", headers={"Origin": "https://shop.example", "If-None-Match": etag}
    )
    assert not_modified.status_code == 304
    assert not_modified.headers["Access-Control-Allow-Origin"] == "https://shop.example"


@pytest.mark.parametrize("shape", ["{etag}", "W/{etag}", '"zzz", {etag}', '{etag} , "yyy"', "*"])
def test_if_none_match_variants_give_a_304_without_a_body(client, odd_event, shape):
    first = client.get("/api/events")
    etag = first.headers["ETag"]
    again = client.get("/api/events", headers={"If-None-Match": shape.format(etag=etag)})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag


def test_a_stale_etag_gets_the_new_body(client, odd_event, sql):
    etag = client.get("/api/events").headers["ETag"]
    sql("UPDATE event SET title = 'Renamed' WHERE id = :id", id=odd_event.id)
    changed = client.get("/api/events", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "Renamed" in changed.get_data(as_text=True)


@pytest.mark.concurrent
@pytest.mark.usefixtures("committed")
def test_a_limited_route_keeps_its_headers_and_429_problem_with_the_skipped_hooks(
    database_url, make
):
    """Flask-Limiter's header/teardown hooks now run only after a limit check: the guest-cart
    limit must still answer 429 problem+json with Retry-After and X-RateLimit-*, an exempt
    add to an existing cart none, and the next request must not inherit the limit's state."""
    from tests.helpers import rate_limited_client

    tier = make.ticket_type(make.event(), capacity=50)
    limits = {"RATELIMIT_GUEST_CARTS": "2 per minute", "RATELIMIT_STORAGE_URI": "memory://"}
    with rate_limited_client(database_url, limits) as client:
        env = {"REMOTE_ADDR": "192.0.2.55"}
        body = {"ticketTypeId": tier.id, "quantity": 1}
        first = client.post("/api/cart/items", json=body, environ_base=env)
        assert first.status_code == 201 and first.headers["X-RateLimit-Limit"] == "2"
        assert client.post("/api/cart/items", json=body, environ_base=env).status_code == 201
        refused = client.post("/api/cart/items", json=body, environ_base=env)
        assert refused.status_code == 429
        assert refused.mimetype == "application/problem+json"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert int(refused.headers["Retry-After"]) > 0
        token = {"X-Cart-Token": first.headers["X-Cart-Token"]}
        existing = client.post("/api/cart/items", json=body, headers=token, environ_base=env)
        assert existing.status_code == 201
        assert "X-RateLimit-Limit" not in existing.headers
        read = client.get("/api/events", environ_base=env)
        assert read.status_code == 200 and "X-RateLimit-Limit" not in read.headers


def test_the_detail_shows_seats_left_minus_live_holds_of_other_carts(client, make):
    """The detail's seats left (now one LATERAL sum for ticketsAvailable and soldOut)."""
    bare = make.event()
    body = client.get(f"/api/events/{bare.id}").get_json()["data"]
    assert (body["ticketsAvailable"], body["soldOut"]) == (0, True)
    event = make.event()
    a = make.ticket_type(event, capacity=10, sold=3)
    b = make.ticket_type(event, capacity=5, sold=5)
    make.cart([(a, 2)], user=make.user())  # live hold
    make.cart([(a, 4)], user=make.user(), hold_minutes=-1)  # lapsed: holds nothing
    body = client.get(f"/api/events/{event.id}").get_json()["data"]
    assert (body["ticketsAvailable"], body["soldOut"]) == (5, False)
    make.cart([(a, 5)], user=make.user())
    body = client.get(f"/api/events/{event.id}").get_json()["data"]
    assert (body["ticketsAvailable"], body["soldOut"]) == (0, True)
    assert b.id in [t["id"] for t in body["ticketTypes"]]
