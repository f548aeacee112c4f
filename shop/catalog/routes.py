"""Public catalogue routes: arguments in, then the listing and an event's detail as JSON written
by PostgreSQL (`json_bodies.py`) with an ETag, categories and venues through a service and a
schema."""

from __future__ import annotations

import functools
import time

from flask import Response, request
from flask.views import MethodView
from werkzeug.http import generate_etag, http_date

from shop.catalog import json_bodies
from shop.catalog.schemas import (
    CategoryPageSchema,
    EventEnvelopeSchema,
    EventPageSchema,
    EventQuerySchema,
    PageQuerySchema,
    VenuePageSchema,
    VenueQuerySchema,
)
from shop.database import public_read
from shop.extensions import db
from shop.openapi import ID, Blueprint
from shop.problems import HTTP_PROBLEMS, problem
from shop.services import catalog

events_blp = Blueprint(
    "events", __name__, url_prefix="/api/events", description="Browse and search the events on sale"
)
categories_blp = Blueprint(
    "categories", __name__, url_prefix="/api/categories", description="Kinds of events"
)
venues_blp = Blueprint(
    "venues", __name__, url_prefix="/api/venues", description="Where events happen"
)


# The request headers that can make an answer conditional (304, 412) or partial (werkzeug's
# `make_conditional`), as WSGI environ keys.
CONDITIONAL_REQUEST_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
)


def conditional_json(body: bytes) -> Response:
    """200 with the body and its ETag, or a bodiless 304 when the client already has this
    version (werkzeug's `set_etag` and `make_conditional`).

    If-None-Match compares weakly (RFC 9110 13.1.2): `W/"x"` matches `"x"`, so a proxy or a
    browser that weakened our tag still gets its 304.

    Most requests send none of the conditional headers, and then all `make_conditional` does is
    add a `Date` header: that is done directly (saving ~6 µs of CPU a request, half of this
    function), and werkzeug decides whenever there is something to decide."""
    response = Response(body, mimetype="application/json")
    response.set_etag(generate_etag(body))  # (what `add_etag` does, without reading it back)
    # Browsers and proxies may keep it but must ask again (a cheap 304) before reusing it.
    response.headers["Cache-Control"] = "no-cache"
    environ = request.environ
    if any(name in environ for name in CONDITIONAL_REQUEST_HEADERS):
        response.make_conditional(request)  # (in place: a 304 without a body when it matches)
        if response.status_code == 412:
            # An If-Match that names another version: werkzeug keeps the whole representation
            # as the 412's body, but a refusal is a problem like every other one. The current
            # ETag goes with it, so the client can tell which version is there now.
            refused = problem(
                412,
                HTTP_PROBLEMS[412][0],
                "This is not the version If-Match names: it changed since you read it. Fetch"
                " it again; the ETag header names the version there is now.",
            )
            refused.headers["ETag"] = response.headers["ETag"]
            return refused
    else:
        response.headers["Date"] = http_date_now()
    return response


def http_date_now() -> str:
    """The `Date` header's value now (what `make_conditional` writes), formatted once a
    second rather than for every answer."""
    return _http_date(int(time.time()))


@functools.lru_cache(maxsize=1)
def _http_date(second: int) -> str:
    return http_date(second)


IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The `ETag` of an answer you already have (`W/` prefix accepted): a 304 with"
    " no body when it is still current",
}


@events_blp.route("", parameters=[IF_NONE_MATCH])
class Events(MethodView):
    init_every_request = False  # (no state: one instance serves every request)

    @events_blp.arguments(EventQuerySchema, location="query", as_kwargs=True)
    @events_blp.built_response(200, EventPageSchema, headers={"ETag": "ETag"})
    @events_blp.alt_response(
        304,
        description="Not modified: the listing you have (If-None-Match) is current",
        headers={"ETag": "ETag", "X-Request-ID": "X-Request-ID"},
    )
    def get(self, page: int, page_size: int, **filters):
        """List upcoming events

        Published events that have not started yet, soonest first. Search with `q` (every word
        must match; the last letters of a word may be missing), narrow with `category`, `city`,
        `from`/`to`, `minPrice`/`maxPrice` and `available=true`, order with `sort`. Paginated
        with `page` and `pageSize`; unknown parameters are refused with a 422.

        The listing reaches the first 10 000 matches (1 000 for a search with `q`): `totalItems`
        counts matches up to that cap and pages end there (narrow the filters to reach the
        rest). Every answer is current (no cache on the server) and carries an ETag; send it
        back in `If-None-Match` and an unchanged page is a bodiless 304.
        """
        event_filters = catalog.EventFilters(**filters)
        with public_read(db.engine) as connection:
            body = json_bodies.listing_json(connection, event_filters, page, page_size)
        return conditional_json(body)


@events_blp.route(f"/<{ID}:eventId>", parameters=[IF_NONE_MATCH])
class EventDetail(MethodView):
    init_every_request = False  # (no state: one instance serves every request)

    @events_blp.built_response(200, EventEnvelopeSchema, headers={"ETag": "ETag"})
    @events_blp.alt_response(
        304,
        description="Not modified: the event you have (If-None-Match) is current",
        headers={"ETag": "ETag", "X-Request-ID": "X-Request-ID"},
    )
    @events_blp.alt_response(404, response="NOT_FOUND", description="No such event (or a draft)")
    def get(self, eventId: int):  # path parameters are wire names, so camelCase
        """Show one event with its ticket types

        Each ticket type says its price, how many seats are `available` (capacity minus sold
        minus seats held in other people's carts) and whether it is `onSale` now. Cancelled
        events are still shown (with `status: cancelled`) so ticket holders can look them up.
        Answers carry an ETag; `If-None-Match` with it gets a 304 while nothing changed.
        """
        with public_read(db.engine) as connection:
            body = json_bodies.public_event_json(connection, eventId)
        return conditional_json(body)


@categories_blp.route("")
class Categories(MethodView):
    @categories_blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    @categories_blp.response(200, CategoryPageSchema)
    def get(self, page: int, page_size: int):
        """List categories

        Sorted by name. Use a category's `slug` as the `category` filter of `GET /api/events`.
        """
        return catalog.list_categories(db.session(), page, page_size).envelope()


@venues_blp.route("")
class Venues(MethodView):
    @venues_blp.arguments(VenueQuerySchema, location="query", as_kwargs=True)
    @venues_blp.response(200, VenuePageSchema)
    def get(self, page: int, page_size: int, city: str | None = None):
        """List venues

        Sorted by city, then name; `city` narrows to one city (case-insensitive).
        """
        return catalog.list_venues(db.session(), city, page, page_size).envelope()
