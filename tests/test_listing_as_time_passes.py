"""Review: time passing, with no write at all, changes what the catalogue shows: an event that
starts leaves the upcoming listing and its totals; a hold that lapses gives its seats back in
the listing, the `available` filter and the detail. Committed data on the real connection pool
(the public reads' production path), compared with the plain definition."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.factories import now
from tests.helpers import violations
from tests.test_listing_equals_plain_definition import check_detail, check_listing

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]

LISTINGS = [
    {},
    {"sort": "-startsAt"},
    {"sort": "price"},
    {"sort": "title"},
    {"available": "true"},
    {"minPrice": "1"},
    {"city": "Lapse City"},
    {"category": "lapse-cat"},
    {"category": "lapse-cat", "city": "lapse city"},
    {"q": "lapse"},
]


def test_an_event_starting_and_a_hold_lapsing_show_without_any_write(app, client, make, sql):
    venue = make.venue(city="Lapse City")
    category = make.category(slug="lapse-cat")
    soon = make.event(
        title="Lapse soon", starts_at=now() + timedelta(seconds=15), venue_id=venue.id,
        category_id=category.id,
    )  # fmt: skip
    later = make.event(
        title="Lapse later", starts_at=now() + timedelta(days=2), venue_id=venue.id,
        category_id=category.id,
    )  # fmt: skip
    make.ticket_type(soon, capacity=4)
    held_tier = make.ticket_type(later, capacity=3)
    make.cart([(held_tier, 3)], hold_minutes=0.25)  # lapses in 15 seconds
    for _ in range(2):  # the same statements, prepared on the pooled connections
        for params in LISTINGS:
            check_listing(client, sql, params, page_sizes=(1, 20))
        check_detail(client, sql, later.id)
    listed = client.get("/api/events", query_string={"available": "true"}).get_json()
    assert [item["id"] for item in listed["data"]] == [soon.id]
    etag = client.get(f"/api/events/{later.id}").headers["ETag"]
    listing_etag = client.get("/api/events").headers["ETag"]

    time.sleep(max(0.0, (soon.starts_at - now()).total_seconds()) + 1.0)

    for params in LISTINGS:
        check_listing(client, sql, params, page_sizes=(1, 20))
    check_detail(client, sql, later.id)
    listed = client.get("/api/events", query_string={"available": "true"}).get_json()
    assert [item["id"] for item in listed["data"]] == [later.id]
    detail = client.get(f"/api/events/{later.id}").get_json()["data"]
    assert detail["ticketsAvailable"] == 3 and detail["ticketTypes"][0]["available"] == 3
    # an ETag taken before the lapse no longer matches
    fresh = client.get(f"/api/events/{later.id}", headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    fresh_listing = client.get("/api/events", headers={"If-None-Match": listing_etag})
    assert fresh_listing.status_code == 200
    assert violations(app) == []


def test_many_kinds_of_holds_on_the_production_path(client, sql, make):
    """The oracle test of many kinds of holds, on committed data and pooled connections (the
    listing and the detail through libpq, prepared), twice."""
    from tests.test_listing_equals_plain_definition import (
        test_many_kinds_of_holds_list_by_the_plain_definition as many_holds,
    )

    many_holds(client, sql, make)
    from tests.test_listing_equals_plain_definition import check_listing as again

    for params in ({}, {"available": "true"}, {"sort": "-price"}):
        again(client, sql, params, page_sizes=(3,))
