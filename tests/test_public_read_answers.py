# ruff: noqa: E501 (the recorded answers below are long strings)
"""Review: the public read routes (GET /api/events, /api/events/{id}) on their production path
(committed data, connections from the real pool, no statement listener), answered exactly as
on main: status, every header (volatile values masked), problem bodies, ETag/304 variants,
HEAD, CORS, and a lost database connection. And a listing leaves nothing on its pooled
connection (a setting, a transaction, read-only mode) that changes the next request of another
route on that connection. Tables `EXPECTED_*` were recorded on main (9fa8bf4)."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import text

from shop.database import libpq_url
from shop.extensions import db
from tests.helpers import rate_limited_client, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]

STARTS = datetime(2031, 6, 1, 18, 30, tzinfo=UTC)


@pytest.fixture
def catalogue(make):
    venue = make.venue(name="Review Hall", city="Reviewville", address="Main St 1")
    category = make.category(slug="review-cat", name="Review")
    event = make.event(
        title="Review Gala", starts_at=STARTS, venue_id=venue.id, category_id=category.id
    )
    make.ticket_type(event, price=Decimal("120.00"), capacity=40)
    make.ticket_type(event, price=Decimal("80.00"), capacity=10)
    draft = make.event(
        title="Review Draft", starts_at=STARTS, venue_id=venue.id, category_id=category.id,
        status="draft",
    )  # fmt: skip
    cancelled = make.event(
        title="Review Cancelled", starts_at=STARTS + timedelta(days=1), venue_id=venue.id,
        category_id=category.id, status="cancelled",
    )  # fmt: skip
    NAMED_IDS.clear()
    NAMED_IDS.update({event.id: "<event>", draft.id: "<draft>", cancelled.id: "<cancelled>"})
    return {"event": event, "draft": draft, "cancelled": cancelled}


# The fixture's event ids (they depend on the tests that ran before), masked in details.
NAMED_IDS: dict[int, str] = {}


def masked_ids(text: str) -> str:
    return re.sub(
        r"\bevent (\d+)\b",
        lambda m: f"event {NAMED_IDS.get(int(m.group(1)), m.group(1))}",
        text,
    )


VOLATILE = {
    "date": "<date>",
    "x-cart-token": "<token>",
    "retry-after": "<seconds>",
    "x-ratelimit-reset": "<reset>",
}
# On every answer, with these values (checked, then left out of the pinned headers).
EVERY_ANSWER = {
    "Content-Security-Policy": (
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def shape(response) -> tuple:
    """(status, the headers beyond EVERY_ANSWER's, volatile values masked and checked for
    form, the body: a problem's members, a JSON body's keys, or "" for none)."""
    for name, value in EVERY_ANSWER.items():
        assert response.headers.getlist(name) == [value], (name, response.headers)
    request_id = response.headers.get("X-Request-ID", "")
    assert re.fullmatch(r"[0-9a-f]{32}|rev-123", request_id), request_id
    body = response.get_data()
    if "Content-Length" in response.headers:
        assert int(response.headers["Content-Length"]) == len(body) or (
            response.request.method == "HEAD"
        )
    headers = []
    for name, value in response.headers:
        key = name.lower()
        if name in EVERY_ANSWER or key in ("x-request-id", "content-length"):
            continue
        if key in VOLATILE:
            value = VOLATILE[key]
        elif key == "etag":
            assert re.fullmatch(r'"[0-9a-f]{32,64}"', value), value
            value = "<etag>"
        elif key == "allow":  # (werkzeug builds it from a set: any order)
            value = ", ".join(sorted(value.split(", ")))
        headers.append(f"{name}: {value}")
    if not body:
        kind = ""
    elif response.mimetype == "application/problem+json":
        kind = response.get_json()
        kind = {k: v for k, v in kind.items() if k not in ("type", "title", "status")}
        kind["detail"] = masked_ids(kind["detail"])
    elif response.mimetype == "application/json":
        kind = " ".join(sorted(response.get_json()))
    else:
        kind = body.decode()[:80]
    return (response.status_code, " | ".join(sorted(headers)), kind)


def requests_to_pin(catalogue) -> dict:
    event_id = catalogue["event"].id
    detail = f"/api/events/{event_id}"
    return {
        "listing": ("get", "/api/events", {}),
        "listing_price": ("get", "/api/events?minPrice=1&maxPrice=500&sort=-price", {}),
        "listing_search": ("get", "/api/events?q=review", {}),
        "listing_deep": ("get", "/api/events?page=500&pageSize=20", {}),
        "listing_past_cap": ("get", "/api/events?page=501&pageSize=20", {}),
        "listing_page_huge": ("get", "/api/events?page=1000000000", {}),
        "listing_search_past_cap": ("get", "/api/events?q=review&page=51", {}),
        "detail": ("get", detail, {}),
        "detail_cancelled": ("get", f"/api/events/{catalogue['cancelled'].id}", {}),
        "detail_draft": ("get", f"/api/events/{catalogue['draft'].id}", {}),
        "detail_unknown": ("get", "/api/events/999999", {}),
        "detail_zero": ("get", "/api/events/0", {}),
        "detail_negative": ("get", "/api/events/-1", {}),
        "detail_letters": ("get", "/api/events/abc", {}),
        "detail_huge": ("get", "/api/events/99999999999", {}),
        "detail_int_max": ("get", "/api/events/2147483647", {}),
        "detail_int_max_plus": ("get", "/api/events/2147483648", {}),
        "detail_trailing_slash": ("get", f"{detail}/", {}),
        "listing_trailing_slash": ("get", "/api/events/", {}),
        "head_listing": ("head", "/api/events", {}),
        "head_detail": ("head", detail, {}),
        "head_draft": ("head", f"/api/events/{catalogue['draft'].id}", {}),
        "options_listing": ("options", "/api/events", {}),
        "options_detail": ("options", detail, {}),
        "post_listing": ("post", "/api/events", {"json": {}}),
        "put_detail": ("put", detail, {"json": {}}),
        "delete_detail": ("delete", detail, {}),
        "patch_listing": ("patch", "/api/events", {"json": {}}),
        "page_zero": ("get", "/api/events?page=0", {}),
        "page_letters": ("get", "/api/events?page=abc", {}),
        "page_float": ("get", "/api/events?page=1.5", {}),
        "page_size_zero": ("get", "/api/events?pageSize=0", {}),
        "page_size_101": ("get", "/api/events?pageSize=101", {}),
        "page_size_100": ("get", "/api/events?pageSize=100", {}),
        "sort_bad": ("get", "/api/events?sort=starts_at", {}),
        "from_bad": ("get", "/api/events?from=yesterday", {}),
        "from_after_to": ("get", "/api/events?from=2031-02-01&to=2031-01-01", {}),
        "from_date": ("get", "/api/events?from=2031-06-01", {}),
        "to_date": ("get", "/api/events?from=2031-05-01&to=2031-06-01", {}),
        "from_naive_datetime": ("get", "/api/events?from=2031-06-01T10:00:00", {}),
        "min_negative": ("get", "/api/events?minPrice=-1", {}),
        "min_letters": ("get", "/api/events?minPrice=abc", {}),
        "min_three_decimals": ("get", "/api/events?minPrice=1.005", {}),
        "min_huge": ("get", "/api/events?minPrice=1e30", {}),
        "min_nan": ("get", "/api/events?minPrice=NaN", {}),
        "min_over_max": ("get", "/api/events?minPrice=10&maxPrice=5", {}),
        "available_maybe": ("get", "/api/events?available=maybe", {}),
        "unknown_parameter": ("get", "/api/events?colour=red", {}),
        "repeated_parameter": ("get", "/api/events?page=1&page=2", {}),
        "q_empty": ("get", "/api/events?q=", {}),
        "q_too_long": ("get", "/api/events?q=" + "a" * 201, {}),
        "q_punctuation": ("get", "/api/events?q=%21%21%21", {}),
        "city_empty": ("get", "/api/events?city=", {}),
        "category_too_long": ("get", "/api/events?category=" + "c" * 61, {}),
        "nul_in_q": ("get", "/api/events?q=a%00b", {}),
        "bad_utf8": ("get", "/api/events?q=%ff%fe", {}),
        "request_id_echo": ("get", "/api/events", {"headers": {"X-Request-ID": "rev-123"}}),
        "if_modified_since": (
            "get",
            detail,
            {"headers": {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}},
        ),
        "range": ("get", detail, {"headers": {"Range": "bytes=0-9"}}),
        "if_match_wrong": ("get", detail, {"headers": {"If-Match": '"nope"'}}),
        "if_none_match_star": ("get", detail, {"headers": {"If-None-Match": "*"}}),
        "if_none_match_wrong": ("get", detail, {"headers": {"If-None-Match": '"nope"'}}),
        "if_none_match_garbage": ("get", detail, {"headers": {"If-None-Match": "garbage"}}),
        "if_none_match_empty": ("get", detail, {"headers": {"If-None-Match": ""}}),
        "accept_xml": ("get", "/api/events", {"headers": {"Accept": "application/xml"}}),
        "body_on_get": ("get", "/api/events", {"json": {"page": 2}}),
        "from_year_1": ("get", "/api/events?from=0001-01-01", {}),
        "to_year_9999": ("get", "/api/events?from=2031-01-01&to=9999-12-31", {}),
        "from_plus_14": ("get", "/api/events?from=2031-06-01T00:00:00%2B14:00", {}),
        "from_minus_12": ("get", "/api/events?from=2031-06-01T19:00:00-12:00", {}),
        "from_z": ("get", "/api/events?from=2031-06-01T18:30:00Z", {}),
        "from_micro": ("get", "/api/events?from=2031-06-01T18:30:00.000001%2B00:00", {}),
        "from_nano": ("get", "/api/events?from=2031-06-01T18:30:00.000000001%2B00:00", {}),
        "from_offset_seconds": ("get", "/api/events?from=2031-06-01T18:30:00%2B05:30:15", {}),
        "from_exact_start": ("get", "/api/events?from=2031-06-01T18:30:00%2B00:00", {}),
        "from_just_after": ("get", "/api/events?from=2031-06-01T18:30:00.000001Z", {}),
        "to_exact_start": ("get", "/api/events?from=2031-01-01&to=2031-06-01T18:30:00%2B00:00", {}),
        "to_just_before": ("get", "/api/events?from=2031-01-01&to=2031-06-01T18:29:59.999999Z", {}),
        "price_exponent": ("get", "/api/events?minPrice=1e2", {}),
        "price_leading_zero": ("get", "/api/events?minPrice=0080.00", {}),
        "price_trailing_dot": ("get", "/api/events?minPrice=80.", {}),
        "price_leading_dot": ("get", "/api/events?maxPrice=.5", {}),
        "price_plus": ("get", "/api/events?minPrice=%2B80", {}),
        "price_spaces": ("get", "/api/events?minPrice=%2080%20", {}),
        "price_minus_zero": ("get", "/api/events?minPrice=-0", {}),
        "price_exact_80": ("get", "/api/events?minPrice=80&maxPrice=80", {}),
        "price_exact_80_miss": ("get", "/api/events?minPrice=80.01&maxPrice=120", {}),
        "price_max_numeric": ("get", "/api/events?maxPrice=99999999.99", {}),
        "price_over_numeric": ("get", "/api/events?maxPrice=999999999.99", {}),
        "price_and_dates": (
            "get",
            "/api/events?minPrice=1&from=2031-05-01&to=2031-07-01&sort=title",
            {},
        ),
    }


def answers(client, catalogue) -> dict:
    return {
        name: shape(getattr(client, method)(path, **kwargs))
        for name, (method, path, kwargs) in requests_to_pin(catalogue).items()
    }


def etag_answers(client, catalogue) -> dict:
    """If-None-Match with the current tag in each form, on the detail and the listing."""
    got = {}
    for name, path in (
        ("detail", f"/api/events/{catalogue['event'].id}"),
        ("listing", "/api/events?pageSize=5"),
        ("listing_price", "/api/events?minPrice=1"),
    ):
        tag = client.get(path).headers["ETag"]
        for form, value in (
            ("exact", tag),
            ("weak", f"W/{tag}"),
            ("list_first", f'{tag}, "other"'),
            ("list_last", f'"other", W/{tag}'),
            ("no_quotes", tag.strip('"')),
            ("other_case", tag.upper()),
        ):
            response = client.get(path, headers={"If-None-Match": value})
            got[f"{name}_{form}"] = shape(response)
            if response.status_code == 304:
                assert response.get_data() == b""
                assert response.headers["ETag"] == tag
    return got


def dump_or_compare(actual: dict, expected: dict, name: str) -> None:
    target = os.environ.get("REVIEW_DUMP")
    if target:
        with open(f"{target}.{name}.json", "w") as file:
            json.dump(actual, file, indent=1, sort_keys=True)
        return
    assert set(actual) == set(expected)
    for key in expected:
        assert (key, actual[key]) == (key, expected[key])


def test_every_public_read_answers_as_on_main(client, catalogue):
    dump_or_compare(answers(client, catalogue), EXPECTED_ANSWERS, "answers")


def test_every_if_none_match_form_answers_as_on_main(client, catalogue):
    dump_or_compare(etag_answers(client, catalogue), EXPECTED_ETAGS, "etags")


def test_cors_on_the_public_reads_answers_as_on_main(cors_client, catalogue):
    detail = f"/api/events/{catalogue['event'].id}"
    allowed = {"Origin": "https://shop.example"}
    evil = {"Origin": "https://evil.example"}
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Request-ID",
    }
    got = {}
    for path_name, path in (("listing", "/api/events"), ("detail", detail),
                            ("draft", f"/api/events/{catalogue['draft'].id}"),
                            ("bad_page", "/api/events?page=0")):  # fmt: skip
        got[f"{path_name}_allowed"] = shape(cors_client.get(path, headers=allowed))
        got[f"{path_name}_evil"] = shape(cors_client.get(path, headers=evil))
        got[f"{path_name}_none"] = shape(cors_client.get(path))
        got[f"{path_name}_preflight_allowed"] = shape(
            cors_client.options(path, headers={**allowed, **preflight})
        )
        got[f"{path_name}_preflight_evil"] = shape(
            cors_client.options(path, headers={**evil, **preflight})
        )
        got[f"{path_name}_head_allowed"] = shape(cors_client.head(path, headers=allowed))
    tag = cors_client.get(detail).headers["ETag"]
    got["detail_304_allowed"] = shape(
        cors_client.get(detail, headers={**allowed, "If-None-Match": tag})
    )
    got["post_405_allowed"] = shape(cors_client.post("/api/events", json={}, headers=allowed))
    dump_or_compare(got, EXPECTED_CORS, "cors")


def test_rate_limits_still_apply_around_the_public_reads(database_url, catalogue, make):
    tier = make.ticket_type(catalogue["event"], price=Decimal("5.00"), capacity=50)
    with rate_limited_client(database_url, {"RATELIMIT_GUEST_CARTS": "2 per minute"}) as client:
        got = {"listing": shape(client.get("/api/events"))}
        got["detail"] = shape(client.get(f"/api/events/{catalogue['event'].id}"))
        for attempt in range(3):
            got[f"guest_add_{attempt}"] = shape(
                client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1})
            )
        got["listing_after"] = shape(client.get("/api/events"))
        got["detail_after"] = shape(client.get(f"/api/events/{catalogue['event'].id}"))
    dump_or_compare(got, EXPECTED_LIMITS, "limits")


def kill_pooled_connection(app, database_url: str) -> None:
    """Terminate the backend of the app's one pooled connection (the database restarting, a
    proxy dropping it), leaving the pool to find out."""
    with app.app_context(), db.engine.connect() as connection:
        pid = connection.connection.driver_connection.info.backend_pid
        connection.rollback()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


@pytest.mark.parametrize(
    "path",
    ["/api/events", "/api/events?minPrice=1", "/api/events?q=review", "DETAIL"],
)
def test_a_lost_connection_is_one_503_then_the_reads_recover(
    one_connection_app, database_url, catalogue, path
):
    path = path.replace("DETAIL", f"/api/events/{catalogue['event'].id}")
    client = one_connection_app.test_client()
    for _ in range(7):  # prepared on the connection
        assert client.get(path).status_code == 200
    kill_pooled_connection(one_connection_app, database_url)
    lost = client.get(path)
    assert lost.status_code == 503, lost.get_data(as_text=True)[:300]
    assert lost.mimetype == "application/problem+json"
    assert lost.headers["Retry-After"]
    body = lost.get_json()
    assert (body["code"], body["status"]) == ("database_unavailable", 503)
    for _ in range(3):
        again = client.get(path)
        assert again.status_code == 200, again.get_data(as_text=True)[:300]
    # and the other routes on the same pool work too
    assert client.get("/api/health").status_code == 200


SETTINGS = text("SELECT name, setting FROM pg_settings ORDER BY name")
STATE = text(
    "SELECT current_setting('transaction_read_only') AS read_only,"
    " (SELECT count(*) FROM pg_prepared_xacts) AS prepared_xacts"
)


def connection_state(app) -> dict:
    with app.app_context(), db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        state = {
            "autocommit": raw.autocommit,
            "transaction_status": raw.info.transaction_status.name,
            "settings": dict(connection.execute(SETTINGS).all()),
            **connection.execute(STATE).mappings().one(),
        }
        connection.rollback()
        return state


def test_public_reads_leave_their_pooled_connection_as_they_found_it(
    one_connection_app, catalogue, make, auth, app
):
    """One pooled connection: each listing shape, then the connection as the next request
    (another route) finds it, then real writes of other routes on it."""
    client = one_connection_app.test_client()
    event = catalogue["event"]
    before = connection_state(one_connection_app)
    assert before["transaction_status"] == "IDLE"
    paths = [
        "/api/events",
        "/api/events?minPrice=1&maxPrice=500",
        "/api/events?from=2030-01-01&to=2040-01-01",
        "/api/events?available=true",
        "/api/events?q=review",
        "/api/events?q=review&minPrice=1",
        "/api/events?category=review-cat&city=reviewville&sort=title",
        "/api/events?page=400&sort=-price&minPrice=1",
        f"/api/events/{event.id}",
        f"/api/events/{catalogue['draft'].id}",
        "/api/events/999999",
        "/api/events?page=0",
    ]
    for path in paths * 6:  # past psycopg's prepare threshold
        assert client.get(path).status_code in (200, 404, 422)
        after = connection_state(one_connection_app)
        changed = {
            name: (value, after["settings"].get(name))
            for name, value in before["settings"].items()
            if after["settings"].get(name) != value
        }
        assert (path, changed) == (path, {})
        assert (path, {k: v for k, v in after.items() if k != "settings"}) == (
            path,
            {k: v for k, v in before.items() if k != "settings"},
        )
    # Other routes' writes on the very connection the reads used.
    tier = make.ticket_type(event, price=Decimal("10.00"), capacity=5)
    user, admin = make.user(), make.user(role="admin")
    with one_connection_app.app_context():
        from flask_jwt_extended import create_access_token

        buyer = {"Authorization": f"Bearer {create_access_token(identity=str(user.id))}"}
        boss = {"Authorization": f"Bearer {create_access_token(identity=str(admin.id))}"}
    assert client.get("/api/events?minPrice=1").status_code == 200
    added = client.post(
        "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2}, headers=buyer
    )
    assert added.status_code == 201, added.get_json()
    assert client.get("/api/events?q=review").status_code == 200
    order = client.post("/api/cart/checkout", headers=buyer)
    assert order.status_code == 201, order.get_json()
    assert client.get(f"/api/events/{event.id}").status_code == 200
    patched = client.patch(f"/api/admin/ticket-types/{tier.id}", json={"capacity": 7}, headers=boss)
    assert patched.status_code == 200, patched.get_json()
    assert client.get("/api/events?available=true").status_code == 200
    guest = client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1})
    assert guest.status_code == 201, guest.get_json()
    detail = client.get(f"/api/events/{event.id}").get_json()["data"]
    shown = {t["id"]: t["available"] for t in detail["ticketTypes"]}
    assert shown[tier.id] == 7 - 2 - 1
    # A transaction that fails on the connection (psycopg then drops what it prepared, maybe
    # everything): the reads prepare again and answer the same.
    bodies = {path: client.get(path).get_data() for path in paths[:8]}
    clash = {"email": user.email, "password": "Correct-Horse-9", "name": "Again"}
    assert client.post("/api/auth/signup", json=clash).status_code == 409
    assert client.post("/api/cart/items", json={"ticketTypeId": 999999, "quantity": 1},
                       headers=buyer).status_code == 404  # fmt: skip
    for path in paths[:8] * 2:
        assert (path, client.get(path).get_data()) == (path, bodies[path])
    assert violations(app) == []


# Recorded on main (9fa8bf4).
EXPECTED_ANSWERS: dict = {
    "accept_xml": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "available_maybe": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `available`. Fix what `errors` lists and try again.",
            "errors": {"available": ["Not a valid boolean."]},
        },
    ),
    "bad_utf8": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "body_on_get": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "category_too_long": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `category`. Fix what `errors` lists and try again.",
            "errors": {"category": ["Length must be between 1 and 60."]},
        },
    ),
    "city_empty": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "delete_detail": (
        405,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "method_not_allowed",
            "detail": "This address does not accept that method; see the Allow header.",
        },
    ),
    "detail": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "detail_cancelled": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "detail_draft": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "event_not_found",
            "detail": "There is no event <draft>. GET /api/events lists them.",
        },
    ),
    "detail_huge": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "not_found",
            "detail": "There is nothing at this address. Check the URL against /api/docs.",
        },
    ),
    "detail_int_max": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "event_not_found",
            "detail": "There is no event 2147483647. GET /api/events lists them.",
        },
    ),
    "detail_int_max_plus": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "not_found",
            "detail": "There is nothing at this address. Check the URL against /api/docs.",
        },
    ),
    "detail_letters": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "not_found",
            "detail": "There is nothing at this address. Check the URL against /api/docs.",
        },
    ),
    "detail_negative": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "not_found",
            "detail": "There is nothing at this address. Check the URL against /api/docs.",
        },
    ),
    "detail_trailing_slash": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "not_found",
            "detail": "There is nothing at this address. Check the URL against /api/docs.",
        },
    ),
    "detail_unknown": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "event_not_found",
            "detail": "There is no event 999999. GET /api/events lists them.",
        },
    ),
    "detail_zero": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "not_found",
            "detail": "There is nothing at this address. Check the URL against /api/docs.",
        },
    ),
    "from_after_to": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `from`. Fix what `errors` lists and try again.",
            "errors": {"from": ["`from` must not be after `to`."]},
        },
    ),
    "from_bad": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `from`. Fix what `errors` lists and try again.",
            "errors": {
                "from": [
                    "Use a date (2026-12-24) or a date-time with offset (2026-12-24T18:00+01:00)."
                ]
            },
        },
    ),
    "from_date": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "from_exact_start": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "from_just_after": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "from_micro": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "from_minus_12": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "from_naive_datetime": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `from`. Fix what `errors` lists and try again.",
            "errors": {"from": ["Add a UTC offset to the time (for example +01:00 or Z)."]},
        },
    ),
    "from_nano": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "from_offset_seconds": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "from_plus_14": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "from_year_1": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "from_z": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "head_detail": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "",
    ),
    "head_draft": (404, "Cache-Control: no-store | Content-Type: application/problem+json", ""),
    "head_listing": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "",
    ),
    "if_match_wrong": (
        412,
        "Cache-Control: no-store | Content-Type: application/problem+json | ETag: <etag>",
        {
            "code": "precondition_failed",
            "detail": "This is not the version If-Match names: it changed since you read it."
            " Fetch it again; the ETag header names the version there is now.",
        },
    ),
    "if_modified_since": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "if_none_match_empty": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "if_none_match_garbage": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "if_none_match_star": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "if_none_match_wrong": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "listing": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "listing_deep": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "listing_page_huge": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `page`. Fix what `errors` lists and try again.",
            "errors": {
                "page": ["Must be greater than or equal to 1 and less than or equal to 1000000."]
            },
        },
    ),
    "listing_past_cap": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "listing_price": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "listing_search": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "listing_search_past_cap": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "listing_trailing_slash": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "not_found",
            "detail": "There is nothing at this address. Check the URL against /api/docs.",
        },
    ),
    "min_huge": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "min_letters": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "min_nan": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "min_negative": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "min_over_max": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {"minPrice": ["`minPrice` must not be after `maxPrice`."]},
        },
    ),
    "min_three_decimals": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "nul_in_q": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Text may not contain NUL characters (U+0000). Remove them and try again.",
            "errors": {"_request": ["Contains a NUL character."]},
        },
    ),
    "options_detail": (
        200,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8",
        "",
    ),
    "options_listing": (
        200,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8",
        "",
    ),
    "page_float": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `page`. Fix what `errors` lists and try again.",
            "errors": {"page": ["Not a valid integer."]},
        },
    ),
    "page_letters": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `page`. Fix what `errors` lists and try again.",
            "errors": {"page": ["Not a valid integer."]},
        },
    ),
    "page_size_100": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "page_size_101": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `pageSize`. Fix what `errors` lists and try again.",
            "errors": {
                "pageSize": ["Must be greater than or equal to 1 and less than or equal to 100."]
            },
        },
    ),
    "page_size_zero": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `pageSize`. Fix what `errors` lists and try again.",
            "errors": {
                "pageSize": ["Must be greater than or equal to 1 and less than or equal to 100."]
            },
        },
    ),
    "page_zero": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `page`. Fix what `errors` lists and try again.",
            "errors": {
                "page": ["Must be greater than or equal to 1 and less than or equal to 1000000."]
            },
        },
    ),
    "patch_listing": (
        405,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "method_not_allowed",
            "detail": "This address does not accept that method; see the Allow header.",
        },
    ),
    "post_listing": (
        405,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "method_not_allowed",
            "detail": "This address does not accept that method; see the Allow header.",
        },
    ),
    "price_and_dates": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "price_exact_80": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "price_exact_80_miss": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "price_exponent": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "price_leading_dot": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `maxPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "maxPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "price_leading_zero": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "price_max_numeric": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "price_minus_zero": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "price_over_numeric": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `maxPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "maxPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "price_plus": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "price_spaces": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "price_trailing_dot": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `minPrice`. Fix what `errors` lists and try again.",
            "errors": {
                "minPrice": ['Use a decimal string with at most two decimals, e.g. "250.00".']
            },
        },
    ),
    "put_detail": (
        405,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "method_not_allowed",
            "detail": "This address does not accept that method; see the Allow header.",
        },
    ),
    "q_empty": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "q_punctuation": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "q_too_long": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `q`. Fix what `errors` lists and try again.",
            "errors": {"q": ["Length must be between 1 and 200."]},
        },
    ),
    "range": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "repeated_parameter": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "request_id_echo": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "sort_bad": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `sort`. Fix what `errors` lists and try again.",
            "errors": {"sort": ["Must be one of: startsAt, -startsAt, price, -price, title."]},
        },
    ),
    "to_date": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "to_exact_start": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "to_just_before": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "to_year_9999": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "unknown_parameter": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `colour`. Fix what `errors` lists and try again.",
            "errors": {"colour": ["Unknown field."]},
        },
    ),
}

EXPECTED_ETAGS: dict = {
    "detail_exact": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "detail_list_first": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "detail_list_last": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "detail_no_quotes": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "detail_other_case": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "detail_weak": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_exact": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_list_first": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_list_last": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_no_quotes": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_other_case": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "listing_price_exact": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_price_list_first": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_price_list_last": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_price_no_quotes": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_price_other_case": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "listing_price_weak": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
    "listing_weak": (304, "Cache-Control: no-cache | Date: <date> | ETag: <etag>", ""),
}

EXPECTED_CORS: dict = {
    "bad_page_allowed": (
        422,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Cache-Control: no-store | Content-Type: application/problem+json | Vary: Origin",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `page`. Fix what `errors` lists and try again.",
            "errors": {
                "page": ["Must be greater than or equal to 1 and less than or equal to 1000000."]
            },
        },
    ),
    "bad_page_evil": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json | Vary: Origin",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `page`. Fix what `errors` lists and try again.",
            "errors": {
                "page": ["Must be greater than or equal to 1 and less than or equal to 1000000."]
            },
        },
    ),
    "bad_page_head_allowed": (
        422,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Cache-Control: no-store | Content-Type: application/problem+json | Vary: Origin",
        "",
    ),
    "bad_page_none": (
        422,
        "Cache-Control: no-store | Content-Type: application/problem+json | Vary: Origin",
        {
            "code": "validation_failed",
            "detail": "Invalid value for `page`. Fix what `errors` lists and try again.",
            "errors": {
                "page": ["Must be greater than or equal to 1 and less than or equal to 1000000."]
            },
        },
    ),
    "bad_page_preflight_allowed": (
        200,
        "Access-Control-Allow-Headers: X-Request-ID | Access-Control-Allow-Methods: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT | Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Access-Control-Max-Age: 600 | Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8 | Vary: Origin | Vary: Origin",
        "",
    ),
    "bad_page_preflight_evil": (
        200,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8 | Vary: Origin",
        "",
    ),
    "detail_304_allowed": (
        304,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Cache-Control: no-cache | Date: <date> | ETag: <etag> | Vary: Origin | Vary: Origin",
        "",
    ),
    "detail_allowed": (
        200,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag> | Vary: Origin | Vary: Origin",
        "data",
    ),
    "detail_evil": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag> | Vary: Origin",
        "data",
    ),
    "detail_head_allowed": (
        200,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag> | Vary: Origin | Vary: Origin",
        "",
    ),
    "detail_none": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag> | Vary: Origin",
        "data",
    ),
    "detail_preflight_allowed": (
        200,
        "Access-Control-Allow-Headers: X-Request-ID | Access-Control-Allow-Methods: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT | Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Access-Control-Max-Age: 600 | Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8 | Vary: Origin | Vary: Origin",
        "",
    ),
    "detail_preflight_evil": (
        200,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8 | Vary: Origin",
        "",
    ),
    "draft_allowed": (
        404,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Cache-Control: no-store | Content-Type: application/problem+json | Vary: Origin",
        {
            "code": "event_not_found",
            "detail": "There is no event <draft>. GET /api/events lists them.",
        },
    ),
    "draft_evil": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json | Vary: Origin",
        {
            "code": "event_not_found",
            "detail": "There is no event <draft>. GET /api/events lists them.",
        },
    ),
    "draft_head_allowed": (
        404,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Cache-Control: no-store | Content-Type: application/problem+json | Vary: Origin",
        "",
    ),
    "draft_none": (
        404,
        "Cache-Control: no-store | Content-Type: application/problem+json | Vary: Origin",
        {
            "code": "event_not_found",
            "detail": "There is no event <draft>. GET /api/events lists them.",
        },
    ),
    "draft_preflight_allowed": (
        200,
        "Access-Control-Allow-Headers: X-Request-ID | Access-Control-Allow-Methods: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT | Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Access-Control-Max-Age: 600 | Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8 | Vary: Origin | Vary: Origin",
        "",
    ),
    "draft_preflight_evil": (
        200,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8 | Vary: Origin",
        "",
    ),
    "listing_allowed": (
        200,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag> | Vary: Origin | Vary: Origin",
        "data meta",
    ),
    "listing_evil": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag> | Vary: Origin",
        "data meta",
    ),
    "listing_head_allowed": (
        200,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag> | Vary: Origin | Vary: Origin",
        "",
    ),
    "listing_none": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag> | Vary: Origin",
        "data meta",
    ),
    "listing_preflight_allowed": (
        200,
        "Access-Control-Allow-Headers: X-Request-ID | Access-Control-Allow-Methods: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT | Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Access-Control-Max-Age: 600 | Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8 | Vary: Origin | Vary: Origin",
        "",
    ),
    "listing_preflight_evil": (
        200,
        "Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: text/html; charset=utf-8 | Vary: Origin",
        "",
    ),
    "post_405_allowed": (
        405,
        "Access-Control-Allow-Origin: https://shop.example | Access-Control-Expose-Headers: Idempotent-Replayed, Retry-After, X-Cart-Token, X-Request-ID | Allow: GET, HEAD, OPTIONS | Cache-Control: no-store | Content-Type: application/problem+json | Vary: Origin",
        {
            "code": "method_not_allowed",
            "detail": "This address does not accept that method; see the Allow header.",
        },
    ),
}

EXPECTED_LIMITS: dict = {
    "detail": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "detail_after": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data",
    ),
    "guest_add_0": (
        201,
        "Cache-Control: no-store | Content-Type: application/json | Retry-After: <seconds> | X-Cart-Token: <token> | X-RateLimit-Limit: 2 | X-RateLimit-Remaining: 1 | X-RateLimit-Reset: <reset>",
        "data",
    ),
    "guest_add_1": (
        201,
        "Cache-Control: no-store | Content-Type: application/json | Retry-After: <seconds> | X-Cart-Token: <token> | X-RateLimit-Limit: 2 | X-RateLimit-Remaining: 0 | X-RateLimit-Reset: <reset>",
        "data",
    ),
    "guest_add_2": (
        429,
        "Cache-Control: no-store | Content-Type: application/problem+json | Retry-After: <seconds> | X-RateLimit-Limit: 2 | X-RateLimit-Remaining: 0 | X-RateLimit-Reset: <reset>",
        {
            "code": "rate_limited",
            "detail": "Too many requests (2 per 1 minute). Wait the number of seconds in the Retry-After header, then try again.",
        },
    ),
    "listing": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
    "listing_after": (
        200,
        "Cache-Control: no-cache | Content-Type: application/json | Date: <date> | ETag: <etag>",
        "data meta",
    ),
}


BOUNDARY_LISTINGS = [
    {"from": "2031-06-01T18:30:00+00:00"},
    {"from": "2031-06-01T18:30:00.000001+00:00"},
    {"from": "2031-06-01T18:29:59.999999Z"},
    {"from": "2031-06-02T04:00:00+09:30"},
    {"from": "2031-06-01T07:30:00-11:00"},
    {"from": "2031-06-01T23:30:00+05:00", "sort": "-startsAt"},
    {"from": "2031-01-01T00:00:00Z", "to": "2031-06-01T18:30:00+00:00"},
    {"from": "2031-01-01T00:00:00Z", "to": "2031-06-01T18:29:59.999999+00:00"},
    {"from": "2031-01-01T00:00:00Z", "to": "2031-06-01T18:30:00.000001+00:00"},
    {"minPrice": "80", "maxPrice": "80"},
    {"minPrice": "80.00", "maxPrice": "80.01"},
    {"minPrice": "79.99"},
    {"minPrice": "80.01"},
    {"maxPrice": "0"},
    {"minPrice": "0", "maxPrice": "99999999.99"},
    {"minPrice": "0080.50"},
    {"minPrice": "1", "from": "2031-06-01T18:30:00.000001Z", "sort": "price"},
    {"maxPrice": "120", "from": "2000-01-01T00:00:00Z", "to": "2040-01-01T00:00:00Z"},
    {"available": "true", "from": "2031-06-01T18:30:00Z"},
]


def test_date_and_price_bounds_list_by_the_plain_definition(client, sql, make, catalogue):
    """Prices and moments reach PostgreSQL as the API read them: boundaries to the
    microsecond and the cent, offsets from -11:00 to +09:30, on the production path."""
    venue_id, category_id = catalogue["event"].venue_id, catalogue["event"].category_id
    for delta, price in ((timedelta(microseconds=1), "80.01"), (-timedelta(microseconds=1), "79.99"),
                         (timedelta(hours=5), "80.50"), (timedelta(0), "0.00")):  # fmt: skip
        event = make.event(
            title="Bound", starts_at=STARTS + delta, venue_id=venue_id, category_id=category_id
        )
        make.ticket_type(event, price=Decimal(price))
    make.event(title="No tiers", starts_at=STARTS, venue_id=venue_id, category_id=category_id)
    from tests.test_listing_equals_plain_definition import check_listing

    for _ in range(2):  # the second time on prepared statements
        for params in BOUNDARY_LISTINGS:
            check_listing(client, sql, params, page_sizes=(2, 20))


def test_more_listing_shapes_than_a_connection_keeps_prepared_still_answer_right(
    one_connection_app, sql, catalogue
):
    """One pooled connection, ~140 shapes of listing (each its own statement), each asked
    twice in a cycle: every answer equals the plain definition, and the connection does not
    keep more prepared statements than its bounds (psycopg's and the shop's, 100 each)."""
    import itertools

    from tests.test_listing_equals_plain_definition import plain_listing

    client = one_connection_app.test_client()
    options = {
        "category": [None, "review-cat"],
        "city": [None, "reviewville"],
        "from": [None, "2031-01-01T00:00:00Z"],
        "to": [None, "2031-12-31T00:00:00Z"],
        "minPrice": [None, "1"],
        "maxPrice": [None, "500"],
        "sort": ["startsAt", "price", "-price", "title", "-startsAt"],
    }
    shapes = [
        {k: v for k, v in zip(options, combo, strict=True) if v is not None}
        for combo in itertools.product(*options.values())
    ][::2]
    assert len(shapes) >= 140
    expected = {}
    for params in shapes:
        items = plain_listing(sql, params)
        expected[json.dumps(params, sort_keys=True)] = [i["id"] for i in items]
    for _ in range(2):
        for params in shapes:
            response = client.get("/api/events", query_string=params)
            assert response.status_code == 200, (params, response.get_data(as_text=True)[:200])
            got = [item["id"] for item in response.get_json()["data"]]
            assert (params, got) == (params, expected[json.dumps(params, sort_keys=True)])
    assert client.get(f"/api/events/{catalogue['event'].id}").status_code == 200
    with one_connection_app.app_context(), db.engine.connect() as connection:
        counts = dict(
            connection.execute(
                text(
                    "SELECT left(name, 4) AS kind, count(*) FROM pg_prepared_statements GROUP BY 1"
                )
            ).all()
        )
        connection.rollback()
    assert sum(counts.values()) <= 205, counts
