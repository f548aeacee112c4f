"""Public catalogue: listing, search, filters, sorting, pagination, event detail."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from shop.schemas import SHOP_TIMEZONE
from tests.factories import now


@pytest.fixture
def places(make):
    return {
        "jazz": make.category(slug="jazz", name="Jazz"),
        "comedy": make.category(slug="comedy", name="Comedy"),
        "cph": make.venue(name="Blue Note Hall", city="Copenhagen"),
        "aarhus": make.venue(name="Train", city="Århus"),
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["data"]]


def test_list_shows_published_upcoming_events_soonest_first(client, make, places):
    later = make.event(title="Later", starts_at=now() + timedelta(days=20))
    sooner = make.event(title="Sooner", starts_at=now() + timedelta(days=2))
    make.event(title="Past", starts_at=now() - timedelta(days=2))
    make.event(title="Draft", status="draft")
    make.event(title="Cancelled", status="cancelled")
    assert ids(client.get("/api/events")) == [sooner.id, later.id]


def test_list_item_has_the_course_shape(client, make, places):
    event = make.event(
        title="Blue Note Night",
        venue_id=places["cph"].id,
        category_id=places["jazz"].id,
        image_url="https://img.example/1.jpg",
    )
    make.ticket_type(event, price=Decimal("199.00"), capacity=50, sold=10)
    make.ticket_type(event, price=Decimal("99.50"), capacity=20, sold=20)
    body = client.get("/api/events").get_json()
    assert body["meta"] == {"page": 1, "pageSize": 20, "totalItems": 1, "totalPages": 1}
    item = body["data"][0]
    assert item == {
        "id": event.id,
        "title": "Blue Note Night",
        "startsAt": item["startsAt"],
        "endsAt": item["endsAt"],
        "venue": {"id": places["cph"].id, "name": "Blue Note Hall", "city": "Copenhagen"},
        "category": {"slug": "jazz", "name": "Jazz"},
        "imageUrl": "https://img.example/1.jpg",
        "priceFrom": {"amount": "99.50", "currency": "DKK"},
        "ticketsAvailable": 40,
        "soldOut": False,
    }
    assert item["startsAt"].endswith("+00:00")


def test_pagination_meta_and_pages(client, make):
    events = [make.event(starts_at=now() + timedelta(days=day)) for day in range(1, 6)]
    body = client.get("/api/events?page=2&pageSize=2").get_json()
    assert [item["id"] for item in body["data"]] == [events[2].id, events[3].id]
    assert body["meta"] == {"page": 2, "pageSize": 2, "totalItems": 5, "totalPages": 3}
    past_end = client.get("/api/events?page=9&pageSize=2").get_json()
    assert past_end["data"] == []
    assert past_end["meta"]["totalItems"] == 5


def test_same_start_time_is_ordered_by_id(client, make):
    moment = now() + timedelta(days=3)
    first, second, third = (make.event(starts_at=moment) for _ in range(3))
    assert ids(client.get("/api/events")) == [first.id, second.id, third.id]
    assert ids(client.get("/api/events?sort=-startsAt")) == [third.id, second.id, first.id]


def test_sort_by_price_and_title(client, make):
    cheap = make.event(title="Bravo")
    make.ticket_type(cheap, price=Decimal("100"))
    dear = make.event(title="Alpha")
    make.ticket_type(dear, price=Decimal("900"))
    free_of_tiers = make.event(title="Charlie")
    assert ids(client.get("/api/events?sort=price")) == [cheap.id, dear.id, free_of_tiers.id]
    assert ids(client.get("/api/events?sort=-price")) == [dear.id, cheap.id, free_of_tiers.id]
    assert ids(client.get("/api/events?sort=title")) == [dear.id, cheap.id, free_of_tiers.id]


def test_filter_by_category_and_city(client, make, places):
    jazz_cph = make.event(category_id=places["jazz"].id, venue_id=places["cph"].id)
    comedy_aarhus = make.event(category_id=places["comedy"].id, venue_id=places["aarhus"].id)
    assert ids(client.get("/api/events?category=jazz")) == [jazz_cph.id]
    assert ids(client.get("/api/events?city=%C3%85RHUS")) == [comedy_aarhus.id]
    assert ids(client.get("/api/events?city=copenhagen&category=comedy")) == []
    assert ids(client.get("/api/events?category=no-such-slug")) == []


def test_filter_by_date_range_includes_the_whole_last_day(client, make):
    base = (now() + timedelta(days=40)).replace(hour=12, minute=0, second=0, microsecond=0)
    inside = make.event(starts_at=base)
    make.event(starts_at=base + timedelta(days=3))
    day = base.date().isoformat()
    assert ids(client.get(f"/api/events?from={day}&to={day}")) == [inside.id]


def test_from_in_the_past_includes_past_events(client, make):
    past = make.event(starts_at=now() - timedelta(days=3))
    upcoming = make.event(starts_at=now() + timedelta(days=3))
    since = (now() - timedelta(days=10)).date().isoformat()
    assert ids(client.get(f"/api/events?from={since}")) == [past.id, upcoming.id]


def test_filter_by_price_uses_the_cheapest_tier(client, make):
    budget = make.event()
    make.ticket_type(budget, price=Decimal("150"))
    make.ticket_type(budget, price=Decimal("800"))
    premium = make.event()
    make.ticket_type(premium, price=Decimal("500"))
    assert ids(client.get("/api/events?maxPrice=200")) == [budget.id]
    assert ids(client.get("/api/events?minPrice=400")) == [premium.id]
    assert ids(client.get("/api/events?minPrice=150&maxPrice=500")) == [budget.id, premium.id]


def test_available_filter_skips_sold_out_and_fully_held_events(client, make):
    open_event = make.event()
    make.ticket_type(open_event, capacity=10, sold=9)
    sold_out = make.event()
    make.ticket_type(sold_out, capacity=10, sold=10)
    held = make.event()
    held_tier = make.ticket_type(held, capacity=10, sold=6)
    make.cart([(held_tier, 4)])
    assert ids(client.get("/api/events?available=true")) == [open_event.id]
    assert len(ids(client.get("/api/events?available=false"))) == 3


def test_expired_holds_free_their_seats(client, make):
    event = make.event()
    tier = make.ticket_type(event, capacity=10, sold=2)
    make.cart([(tier, 5)])
    make.cart([(tier, 3)], hold_minutes=-1)  # expired: counts for nothing
    make.cart([(tier, 1)], status="checked_out")  # not active: counts for nothing
    item = client.get("/api/events").get_json()["data"][0]
    assert item["ticketsAvailable"] == 3
    detail = client.get(f"/api/events/{event.id}").get_json()["data"]
    assert detail["ticketTypes"][0]["available"] == 3


def test_sold_out_flag(client, make):
    event = make.event()
    make.ticket_type(event, capacity=5, sold=5)
    item = client.get("/api/events").get_json()["data"][0]
    assert item["ticketsAvailable"] == 0 and item["soldOut"] is True


@pytest.mark.parametrize(
    ("query", "expected_titles"),
    [
        ("jazz copenhagen", {"Late Night Jazz"}),
        ("JAZZ", {"Late Night Jazz", "Jazz Brunch"}),
        ("jaz", {"Late Night Jazz", "Jazz Brunch"}),
        ("arhus", {"Jazz Brunch"}),
        ("comedies", {"Stand-up Special"}),
        ("saxophone", {"Late Night Jazz"}),
        ("train", {"Jazz Brunch"}),
        ("polka", set()),
        ("!!!", set()),
        ("'; DROP TABLE event; --", set()),
    ],
)
def test_full_text_search(client, make, places, query, expected_titles):
    make.event(
        title="Late Night Jazz",
        description="Saxophones until 2 am.",
        category_id=places["jazz"].id,
        venue_id=places["cph"].id,
    )
    make.event(title="Jazz Brunch", category_id=places["jazz"].id, venue_id=places["aarhus"].id)
    make.event(title="Stand-up Special", category_id=places["comedy"].id, venue_id=places["cph"].id)
    response = client.get("/api/events", query_string={"q": query})
    assert response.status_code == 200
    assert {item["title"] for item in response.get_json()["data"]} == expected_titles


@pytest.mark.parametrize(
    ("query_string", "parameter"),
    [
        ("pageSize=0", "pageSize"),
        ("pageSize=1000", "pageSize"),
        ("pageSize=abc", "pageSize"),
        ("page=0", "page"),
        ("sort=cheapest", "sort"),
        ("from=2027-02-01&to=2027-01-01", "from"),
        ("from=next-tuesday", "from"),
        ("to=2027-01-01T10:00:00", "to"),
        ("minPrice=-5", "minPrice"),
        ("maxPrice=ten", "maxPrice"),
        ("minPrice=300&maxPrice=100", "minPrice"),
        ("available=perhaps", "available"),
        ("q=" + "x" * 201, "q"),
        ("pagesize=10", "pagesize"),
    ],
)
def test_invalid_parameters_are_422_naming_the_parameter(client, query_string, parameter):
    response = client.get(f"/api/events?{query_string}")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert parameter in body["errors"]
    assert f"`{parameter}`" in body["detail"]


def test_query_parameters_are_read_as_their_first_non_empty_values(app, client, make):
    """Empty values mean "not given" and a repeated parameter counts once, its first value. The
    single-value schemas (all of ours) get a plain dict (shop.openapi.ShopArgumentsParser's
    fast path); a schema with a list field still gets every value of its parameter."""
    from marshmallow import Schema, fields

    from shop.catalog.schemas import EventQuerySchema
    from shop.openapi import ShopArgumentsParser

    make.ticket_type(make.event())
    meta = client.get("/api/events?page=&page=2&page=3&pageSize=1&city=").get_json()["meta"]
    assert (meta["page"], meta["pageSize"]) == (2, 1)
    parser = ShopArgumentsParser()

    class Tagged(Schema):
        tag = fields.List(fields.String())

    with app.test_request_context("/api/events?page=&page=2&page=3&sort=title&tag=a&tag=b"):
        from flask import request

        assert parser.load_querystring(request, EventQuerySchema()) == {
            "page": "2",
            "sort": "title",
            "tag": "a",
        }
        assert type(parser.load_querystring(request, EventQuerySchema())) is dict
        assert parser.load_querystring(request, Tagged())["tag"] == ["a", "b"]


def test_list_is_one_statement_whatever_the_page_size(client, make, count_queries):
    for _ in range(30):
        make.ticket_type(make.event())
    with count_queries() as small:
        assert len(ids(client.get("/api/events?pageSize=2"))) == 2
    with count_queries() as large:
        assert len(ids(client.get("/api/events?pageSize=30"))) == 30
    assert len(small) == len(large) == 1, [s[:80] for s in small]


def test_event_detail_has_ticket_types_with_availability_and_sales_window(client, make, places):
    event = make.event(title="Gala", venue_id=places["cph"].id, description="Black tie.")
    standard = make.ticket_type(event, name="Standard", price=Decimal("300"), capacity=100, sold=40)
    early = make.ticket_type(
        event,
        name="Early bird",
        price=Decimal("200"),
        capacity=10,
        sold=3,
        sales_end=now() - timedelta(days=1),
    )
    later = make.ticket_type(
        event,
        name="Late release",
        price=Decimal("400"),
        capacity=10,
        sales_start=now() + timedelta(days=1),
    )
    make.cart([(standard, 5)])
    response = client.get(f"/api/events/{event.id}")
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["description"] == "Black tie."
    assert data["status"] == "published"
    assert data["venue"]["address"] == places["cph"].address
    tiers = {tier["name"]: tier for tier in data["ticketTypes"]}
    assert [tier["id"] for tier in data["ticketTypes"]] == [early.id, standard.id, later.id]
    assert tiers["Standard"] == {
        "id": standard.id,
        "name": "Standard",
        "description": standard.description,
        "price": {"amount": "300.00", "currency": "DKK"},
        "capacity": 100,
        "available": 55,
        "salesStart": None,
        "salesEnd": None,
        "onSale": True,
        "maxPerOrder": 10,
        "maxPerCustomer": None,
    }
    assert tiers["Early bird"]["onSale"] is False
    assert tiers["Late release"]["onSale"] is False
    assert data["priceFrom"] == {"amount": "200.00", "currency": "DKK"}
    assert data["ticketsAvailable"] == 55 + 7 + 10


def test_draft_and_unknown_events_are_404_problems(client, make):
    draft = make.event(status="draft")
    for event_id in (draft.id, 987654):
        response = client.get(f"/api/events/{event_id}")
        assert response.status_code == 404
        assert response.content_type == "application/problem+json"
        assert "/api/events" in response.get_json()["detail"]


def test_cancelled_event_detail_is_visible_and_not_on_sale(client, make):
    event = make.event(status="cancelled")
    make.ticket_type(event)
    data = client.get(f"/api/events/{event.id}").get_json()["data"]
    assert data["status"] == "cancelled"
    assert data["ticketTypes"][0]["onSale"] is False


def test_past_event_is_not_on_sale(client, make):
    event = make.event(starts_at=now() - timedelta(hours=1))
    make.ticket_type(event)
    data = client.get(f"/api/events/{event.id}").get_json()["data"]
    assert data["ticketTypes"][0]["onSale"] is False


def test_categories_are_listed_by_name(client, make):
    make.category(slug="theatre", name="Theatre")
    make.category(slug="comedy", name="Comedy")
    body = client.get("/api/categories").get_json()
    assert [item["slug"] for item in body["data"]] == ["comedy", "theatre"]
    assert set(body["data"][0]) == {"id", "slug", "name"}
    assert body["meta"]["totalItems"] == 2


def test_venues_are_listed_by_city_and_filterable(client, places):
    body = client.get("/api/venues").get_json()
    assert [item["city"] for item in body["data"]] == ["Copenhagen", "Århus"]
    assert set(body["data"][0]) == {"id", "name", "address", "city"}
    only = client.get("/api/venues?city=copenhagen").get_json()["data"]
    assert [item["name"] for item in only] == ["Blue Note Hall"]
    assert client.get("/api/venues?pageSize=101").status_code == 422


def event_item(event, available: int) -> dict:
    """A listing item from ORM objects, the straightforward way, for EventSchema to dump."""
    return {
        "id": event.id,
        "title": event.title,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "venue": event.venue,
        "category": event.category,
        "image_url": event.image_url,
        "price_from": None
        if event.price_from is None
        else {"amount": event.price_from, "currency": event.currency},
        "tickets_available": available,
        "sold_out": available == 0,
    }


def same_json(body: bytes, expected: dict) -> bool:
    """The body parses to `expected`, keys in the same order (what a client sees, byte for byte
    once both are written compactly)."""
    parsed = json.loads(body)
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    return parsed == expected and json.dumps(parsed, **compact) == json.dumps(expected, **compact)


def test_postgresql_built_listing_matches_the_documented_schema(app, client, make, places):
    """PostgreSQL writes the listing's JSON for speed; it must still be exactly what
    EventPageSchema says (times with and without fractions of a second, null price and image,
    held seats, text that needs escaping)."""
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    from shop.catalog.schemas import EventPageSchema
    from shop.extensions import db
    from shop.models import Event

    with_price = make.event(
        title='Quotes " and \\ and Århus ✓, a\ttab, a\nnew line and \x01',
        venue_id=places["cph"].id,
        category_id=places["jazz"].id,
        image_url="https://i/1.jpg",
        starts_at=now().replace(microsecond=0) + timedelta(days=3),
    )
    tier = make.ticket_type(with_price, price=Decimal("99.90"), capacity=5, sold=1)
    make.cart([(tier, 2)])
    make.event(  # no tiers, no price, no image, a start with microseconds
        venue_id=places["aarhus"].id,
        category_id=places["comedy"].id,
        starts_at=now().replace(microsecond=120) + timedelta(days=4),
    )
    body = client.get("/api/events").data
    with app.app_context():
        events = db.session.scalars(
            select(Event)
            .options(joinedload(Event.venue), joinedload(Event.category))
            .order_by(Event.starts_at, Event.id)
        ).all()
        available = {with_price.id: 2}
        expected = EventPageSchema().dump(
            {
                "data": [event_item(event, available.get(event.id, 0)) for event in events],
                "meta": {"page": 1, "page_size": 20, "total_items": 2, "total_pages": 1},
            }
        )
    assert same_json(body, expected), (body, expected)
    # Byte for byte as PostgreSQL's json_build_object/json_agg write JSON (`"key" : value`,
    # ", " between members; the listing writes it from templates, see json_bodies.LISTING_ITEM).
    written = json.dumps(expected, separators=(", ", " : "), ensure_ascii=False)
    assert body.decode() == written, (body.decode(), written)


def test_postgresql_built_event_matches_the_documented_schema(app, client, make, places):
    """Event detail is written by PostgreSQL too: exactly what EventEnvelopeSchema says."""
    from sqlalchemy.orm import joinedload

    from shop.catalog.schemas import EventEnvelopeSchema
    from shop.extensions import db
    from shop.models import Event, TicketType

    event = make.event(
        title='Gala "night"', venue_id=places["cph"].id, category_id=places["jazz"].id
    )
    windowed = make.ticket_type(
        event,
        price=Decimal("120.50"),
        sales_start=now().replace(microsecond=0) - timedelta(days=1),
        sales_end=now().replace(microsecond=987) + timedelta(days=2),
        max_per_customer=6,
    )
    sold_out = make.ticket_type(event, price=Decimal("99.00"), capacity=4, sold=4)
    make.cart([(windowed, 3)])
    body = client.get(f"/api/events/{event.id}").data
    with app.app_context():
        row = db.session.get(
            Event, event.id, options=[joinedload(Event.venue), joinedload(Event.category)]
        )
        tiers = []
        for tier_id, available in ((sold_out.id, 0), (windowed.id, 97)):
            tier = db.session.get(TicketType, tier_id)
            tiers.append(
                {
                    "id": tier.id,
                    "name": tier.name,
                    "description": tier.description,
                    "price": {"amount": tier.price, "currency": tier.currency},
                    "capacity": tier.capacity,
                    "available": available,
                    "sales_start": tier.sales_start,
                    "sales_end": tier.sales_end,
                    "on_sale": True,
                    "max_per_order": tier.max_per_order,
                    "max_per_customer": tier.max_per_customer,
                }
            )
        expected = EventEnvelopeSchema().dump(
            {
                "data": {
                    **event_item(row, 97),
                    "description": row.description,
                    "status": row.status,
                    "ticket_types": tiers,
                }
            }
        )
    assert same_json(body, expected), (body, expected)


def test_one_shape_of_filters_binds_each_request_s_own_values(client, make, places):
    """Listing SQL is compiled once per shape of filters: the values must still be each
    request's own."""
    jazz = make.event(title="Jazz Night", category_id=places["jazz"].id)
    comedy = make.event(title="Comedy Night", category_id=places["comedy"].id)
    assert ids(client.get("/api/events?category=jazz")) == [jazz.id]
    assert ids(client.get("/api/events?category=comedy")) == [comedy.id]
    assert ids(client.get("/api/events?q=jazz")) == [jazz.id]
    assert ids(client.get("/api/events?q=comedy")) == [comedy.id]
    body = client.get("/api/events?q=night&pageSize=1&page=2").get_json()
    assert [item["id"] for item in body["data"]] == [comedy.id]
    assert body["meta"] == {"page": 2, "pageSize": 1, "totalItems": 2, "totalPages": 2}


@pytest.fixture
def small_caps(monkeypatch):
    """Caps of 3 matches (browsing) and 2 (search), instead of 10 000 and 1 000."""
    from shop.catalog import json_bodies
    from shop.services import catalog

    monkeypatch.setattr(catalog, "MAX_LISTED_MATCHES", 3)
    monkeypatch.setattr(catalog, "MAX_SEARCH_MATCHES", 2)
    monkeypatch.setattr(json_bodies, "_listing_sql", {})  # compiled with the real caps otherwise


def test_listing_counts_and_pages_up_to_the_cap(client, make, small_caps):
    events = [
        make.event(title=f"Show {n}", starts_at=now() + timedelta(days=n)) for n in (1, 2, 3, 4, 5)
    ]
    first = client.get("/api/events?pageSize=2").get_json()
    assert first["meta"] == {"page": 1, "pageSize": 2, "totalItems": 3, "totalPages": 2}
    last = client.get("/api/events?pageSize=2&page=2").get_json()
    assert [item["id"] for item in last["data"]] == [events[2].id]  # the page ends at the cap
    assert client.get("/api/events?pageSize=2&page=3").get_json()["data"] == []
    search = client.get("/api/events?q=show").get_json()
    assert [item["id"] for item in search["data"]] == [events[0].id, events[1].id]
    assert search["meta"]["totalItems"] == 2
    # `to` is a day in shop time (between 23:00 and 24:00 UTC the UTC date is the day before).
    first_day = events[0].starts_at.astimezone(SHOP_TIMEZONE).date().isoformat()
    narrowed = client.get("/api/events?q=show&to=" + first_day)
    assert narrowed.get_json()["meta"]["totalItems"] == 1  # under the cap: exact


@pytest.mark.parametrize("weak", [False, True], ids=["strong", "weak"])
def test_listing_answers_304_when_the_client_has_the_current_page(client, make, weak):
    make.ticket_type(make.event())
    first = client.get("/api/events")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    sent = f"W/{etag}" if weak else etag  # proxies that compress may weaken a tag
    again = client.get("/api/events", headers={"If-None-Match": sent})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    make.event()
    changed = client.get("/api/events", headers={"If-None-Match": sent})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


@pytest.mark.parametrize("weak", [False, True], ids=["strong", "weak"])
def test_event_detail_answers_304_until_its_seats_change(client, make, weak):
    tier = make.ticket_type(make.event())
    first = client.get(f"/api/events/{tier.event_id}")
    sent = f"W/{first.headers['ETag']}" if weak else first.headers["ETag"]
    again = client.get(f"/api/events/{tier.event_id}", headers={"If-None-Match": sent})
    assert again.status_code == 304 and again.data == b""
    make.cart([(tier, 1)])  # someone holds a seat: availability changed
    changed = client.get(f"/api/events/{tier.event_id}", headers={"If-None-Match": sent})
    assert changed.status_code == 200
    assert changed.get_json()["data"]["ticketTypes"][0]["available"] == 99


@pytest.mark.parametrize("read", ["listing", "detail"])
def test_catalogue_answers_have_the_same_headers_with_or_without_a_conditional_request(
    client, make, monkeypatch, read
):
    """Without conditional headers the answer gets its `Date` directly; werkzeug's
    `make_conditional` runs only when there is something to decide (shop.catalog.routes.
    conditional_json), and the headers are the same either way, in the same order."""
    from werkzeug import Response
    from werkzeug.http import parse_date

    tier = make.ticket_type(make.event())
    path = "/api/events" if read == "listing" else f"/api/events/{tier.event_id}"
    make_conditional = Response.make_conditional
    decided = []

    def recording(self, *args, **kwargs):
        decided.append(self.status_code)
        return make_conditional(self, *args, **kwargs)

    monkeypatch.setattr(Response, "make_conditional", recording)
    plain = client.get(path)
    assert decided == []
    etag = plain.headers["ETag"]
    unchanged = client.get(path, headers={"If-None-Match": etag})
    other = client.get(path, headers={"If-None-Match": '"another"', "Range": "bytes=0-9"})
    assert decided == [200, 200]
    names = [
        "Content-Type",
        "Content-Length",
        "ETag",
        "Cache-Control",
        "Date",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Content-Security-Policy",
        "X-Request-ID",
    ]
    assert (plain.status_code, list(plain.headers.keys())) == (200, names)
    assert (other.status_code, list(other.headers.keys())) == (200, names)
    assert other.data == plain.data  # no partial answer: the routes do not accept ranges
    assert (unchanged.status_code, list(unchanged.headers.keys())) == (304, names[2:])
    for answer in (plain, unchanged, other):
        assert parse_date(answer.headers["Date"]) is not None
        assert answer.headers["Cache-Control"] == "no-cache"
    assert plain.content_length == len(plain.data)


def test_catalogue_reads_run_on_the_driver_unless_statement_events_are_listened_to(
    client, make, monkeypatch, count_queries
):
    """shop.database.read_value hands the statement to psycopg directly (SQLAlchemy's
    `exec_driver_sql` is not called), unless something listens to statement events: then it
    goes through SQLAlchemy so that they see it. The answers are the same both ways. A price
    range's listing sets `plan_cache_mode` around its statement, through read_value too."""
    from sqlalchemy.engine import Connection

    event = make.event(title="Driver night")
    make.ticket_type(event, price=Decimal("150.00"))
    paths = [
        "/api/events",
        f"/api/events/{event.id}",
        "/api/events?q=driver",
        "/api/events?minPrice=100",
    ]
    with count_queries() as statements:
        through_sqlalchemy = [client.get(path) for path in paths]
    assert len(statements) == 6  # the price range: SET, the listing, RESET

    def refuse(*args, **kwargs):
        raise AssertionError("exec_driver_sql was called")

    monkeypatch.setattr(Connection, "exec_driver_sql", refuse)
    direct = [client.get(path) for path in paths]
    assert [answer.status_code for answer in direct] == [200, 200, 200, 200]
    assert [answer.data for answer in direct] == [answer.data for answer in through_sqlalchemy]
    assert ids(direct[3]) == [event.id]
    assert client.get("/api/events/2147483647").status_code == 404


@pytest.mark.concurrent
@pytest.mark.usefixtures("committed")
def test_catalogue_reads_are_one_statement_on_a_pooled_connection_without_a_session(
    app, client, make, count_queries
):
    """The detail and the listing each run their one statement on a connection of the engine's
    pool in autocommit (no BEGIN, no ROLLBACK): no ORM session begins, and the connection goes
    back to the pool as it came (autocommit off, no transaction open), after a 404 too."""
    from psycopg.pq import TransactionStatus
    from sqlalchemy import event as sqlalchemy_event
    from sqlalchemy.orm import Session

    from shop.extensions import db

    shown = make.event(title="Committed show")
    make.ticket_type(shown)
    draft = make.event(status="draft")
    sessions_begun = []

    def record(session, transaction, connection) -> None:
        sessions_begun.append(connection)

    sqlalchemy_event.listen(Session, "after_begin", record)
    try:
        with count_queries() as statements:
            response = client.get(f"/api/events/{shown.id}")
            missing = client.get(f"/api/events/{draft.id}")
            listed = client.get("/api/events")
    finally:
        sqlalchemy_event.remove(Session, "after_begin", record)
    assert response.status_code == 200
    assert response.get_json()["data"]["title"] == "Committed show"
    assert missing.status_code == 404
    assert missing.content_type == "application/problem+json"
    assert ids(listed) == [shown.id]
    assert len(statements) == 3 and sessions_begun == []
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
        with db.engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert not driver.autocommit
            assert driver.info.transaction_status == TransactionStatus.IDLE


@pytest.mark.concurrent
@pytest.mark.usefixtures("committed")
def test_listings_run_through_libpq_and_answer_what_the_cursor_answers(
    app, client, make, count_queries
):
    """On a pooled connection the listing's statement goes to libpq as a prepared statement of
    its own (`shop.database.read_bytes`), with every kind of value a URL can bring sent as text
    (a search, a category, a city, dates, prices, `available`, a page): the bodies are the ones
    psycopg's cursor answers (the path taken while statements are counted), and one statement
    is prepared per shape of filters."""
    from urllib.parse import quote

    from shop.extensions import db

    jazz = make.category(slug="jazz", name="Jazz")
    hall = make.venue(name="Blue Note Hall", city="Copenhagen")
    for day, price in ((3, "99.50"), (4, "150.00"), (40, "420.00")):
        event = make.event(
            title=f"Cool jazz {day}",
            category_id=jazz.id,
            venue_id=hall.id,
            starts_at=now() + timedelta(days=day),
        )
        make.ticket_type(event, price=Decimal(price))
    with app.app_context():
        db.engine.dispose()  # one pooled connection serves all of these requests, one by one
    start = (now() + timedelta(days=2)).astimezone(SHOP_TIMEZONE)
    paths = [
        "/api/events",
        "/api/events?page=2&pageSize=1&sort=-price",
        "/api/events?q=cool%20ja&sort=title",
        "/api/events?category=jazz&city=copenhagen",
        "/api/events?minPrice=100&maxPrice=420.00&sort=price",
        f"/api/events?from={start.date()}&to={quote((start + timedelta(days=5)).isoformat())}",
        "/api/events?available=true&minPrice=99.51",
    ]
    with count_queries() as statements:  # (a listener: read_bytes runs them on the cursor)
        on_the_cursor = [client.get(path) for path in paths]
    assert len(statements) == 13  # four value-planned listings: SET, the listing, RESET
    through_libpq = [client.get(path) for path in paths]
    assert [ids(answer) for answer in through_libpq] == [ids(answer) for answer in on_the_cursor]
    assert [len(ids(answer)) for answer in through_libpq] == [3, 1, 3, 3, 2, 2, 2]
    assert [answer.data for answer in through_libpq] == [answer.data for answer in on_the_cursor]
    with app.app_context(), db.engine.connect() as connection:
        prepared = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'shop%%'"
        ).scalar()
    assert prepared == len(paths)  # a statement per shape, each prepared once


def test_the_detail_reads_its_tiers_and_sums_the_live_holds_once(app, client, make):
    """The detail reads the event's tiers once (one LATERAL join gives both the `ticketTypes`
    list and the seats left that `ticketsAvailable` and `soldOut` read) and sums the live
    holds once, not once for the list and again for the seats left."""
    import json

    from shop.catalog import json_bodies
    from shop.extensions import db

    event = make.event(title="Counted once")
    make.ticket_type(event, capacity=5)
    body = client.get(f"/api/events/{event.id}").get_json()["data"]
    assert (body["ticketsAvailable"], body["soldOut"]) == (5, False)
    with app.app_context():
        sql = json_bodies.compile_once(
            json_bodies.event_json_statement(), db.engine.dialect, {"event_id"}
        )
        plan = (
            db.session.connection()
            .exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, {"event_id": event.id})
            .scalar()
        )
    text = plan if isinstance(plan, str) else json.dumps(plan)
    assert text.count('"Relation Name": "ticket_type"') == 1
    assert text.count('"Relation Name": "cart"') == 1


@pytest.mark.parametrize("sort", ["startsAt", "-startsAt", "price", "-price", "title"])
def test_search_pages_are_the_same_however_many_matches_it_collects_first(
    client, make, monkeypatch, sort
):
    """A search sorts the matches it collected in memory, or walks the sort's index when there
    are more than the cap (shop.services.catalog._search_page): both give the same pages."""
    from shop.catalog import json_bodies
    from shop.services import catalog

    for n in range(7):
        event = make.event(title=f"Harbour concert {n}", starts_at=now() + timedelta(days=7 - n))
        make.ticket_type(event, price=Decimal(100 + 37 * (n % 3)))
    make.event(title="Something else")
    urls = [f"/api/events?q=harb&sort={sort}&pageSize=3&page={page}" for page in (1, 2, 3, 4)]
    in_memory = [client.get(url).get_json() for url in urls]
    assert [len(body["data"]) for body in in_memory] == [3, 3, 1, 0]
    assert in_memory[0]["meta"] == {"page": 1, "pageSize": 3, "totalItems": 7, "totalPages": 3}
    # Count up to 6: 7 matches are more than the cap, so the index is walked.
    monkeypatch.setattr(catalog, "MAX_SEARCH_MATCHES", 6)
    monkeypatch.setattr(json_bodies, "_listing_sql", {})
    walked = [client.get(url).get_json() for url in urls]
    assert [body["data"] for body in walked] == [
        in_memory[0]["data"],
        in_memory[1]["data"],
        [],  # pages end at the cap
        [],
    ]
    assert walked[0]["meta"] == {"page": 1, "pageSize": 3, "totalItems": 6, "totalPages": 2}


@pytest.mark.parametrize("sort", ["startsAt", "-startsAt", "price", "-price", "title"])
def test_search_pages_past_the_cap_are_the_soonest_matches_from_whole_fortnights(
    client, make, monkeypatch, sort
):
    """Past the cap, a soonest-first page comes from the fortnights read whole when they hold
    it, and from walking the sort's index when they do not (page 3 here), or for any other
    sort (shop.services.catalog._search_page): every page is the one sorting all the matches
    gives, up to the cap. Events before now, in the current fortnight, and drafts are in no
    page."""
    from shop.catalog import json_bodies
    from shop.services import catalog

    make.event(title="Harbour concert past", starts_at=now() - timedelta(hours=2))
    make.event(title="Harbour concert draft", status="draft", starts_at=now() + timedelta(days=3))
    for n in range(10):  # ~3 a fortnight over 7 weeks
        event = make.event(
            title=f"Harbour concert {n}", starts_at=now() + timedelta(days=2 + 5 * n, hours=n)
        )
        make.ticket_type(event, price=Decimal(100 + 37 * (n % 4)))
    urls = [f"/api/events?q=harbour&sort={sort}&pageSize=2&page={page}" for page in range(1, 5)]
    uncapped = [client.get(url).get_json()["data"] for url in urls]
    every_match = client.get(f"/api/events?q=harbour&sort={sort}&pageSize=100").get_json()["data"]
    assert [event["title"] for event in every_match].count("Harbour concert past") == 0
    assert len(every_match) == 10
    monkeypatch.setattr(catalog, "MAX_SEARCH_MATCHES", 5)
    monkeypatch.setattr(json_bodies, "_listing_sql", {})
    capped = [client.get(url).get_json() for url in urls]
    assert [body["data"] for body in capped] == [uncapped[0], uncapped[1], uncapped[2][:1], []]
    assert capped[0]["meta"] == {"page": 1, "pageSize": 2, "totalItems": 5, "totalPages": 3}


def test_a_search_is_one_statement_and_keeps_one_plan(app, client, make, count_queries):
    """A search is one SQL statement (no settings changed around it), and PostgreSQL plans it
    once: after psycopg prepares it and PostgreSQL's five trial plans, the connection runs one
    generic plan whatever the words and page (shop.services.catalog._search_page)."""
    from shop.catalog.json_bodies import listing_json
    from shop.database import public_read
    from shop.extensions import db
    from shop.services.catalog import EventFilters

    make.event(title="Harbour jazz")
    with count_queries() as statements:
        assert ids(client.get("/api/events?q=harbour"))
    assert len(statements) == 1, statements
    words = ["harbour", "jazz", "harb", "ja", "nothing", "harbour jazz", "zz"]
    with app.app_context(), public_read(db.engine) as connection:
        for n in range(20):
            listing_json(connection, EventFilters(q=words[n % len(words)]), 1 + n % 3, 20)
        plans = connection.exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%%to_tsquery%%'"
        )
        generic_plans, custom_plans = plans.one()
    # psycopg prepares it on its 5th run; the 16 prepared runs: 5 trial plans, then one plan.
    assert (custom_plans, generic_plans) == (5, 11)
