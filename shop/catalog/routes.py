"""Public catalogue routes. Thin: arguments in, a service call, a schema out."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from flask import Response, current_app, request
from flask.views import MethodView

from shop.cache import TtlCache
from shop.catalog.schemas import (
    CategoryPageSchema,
    EventEnvelopeSchema,
    EventPageSchema,
    EventQuerySchema,
    PageQuerySchema,
    VenuePageSchema,
    VenueQuerySchema,
)
from shop.extensions import db
from shop.openapi import ID, Blueprint
from shop.schemas import money
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


def listing_item(row, available: int) -> dict:
    """A listing row in wire format, built by hand: the listing is the hottest route, and this
    skips marshmallow while producing exactly what EventSchema documents (a test compares)."""
    return {
        "id": row.id,
        "title": row.title,
        "startsAt": row.starts_at.isoformat(),
        "endsAt": row.ends_at.isoformat(),
        "venue": {"id": row.venue_id, "name": row.venue_name, "city": row.venue_city},
        "category": {"slug": row.category_slug, "name": row.category_name},
        "imageUrl": row.image_url,
        "priceFrom": None
        if row.price_from is None
        else {"amount": f"{row.price_from:.2f}", "currency": row.currency},
        "ticketsAvailable": available,
        "soldOut": available == 0,
    }


# Whole listing pages per filter set, page and size, for LISTING_CACHE_SECONDS (per process).
_listing_pages = TtlCache(maxsize=512)


def conditional_json(body: bytes, etag: str) -> Response:
    """200 with the body, or 304 when the client already has this version (If-None-Match)."""
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    # Browsers and proxies may keep it but must ask again (a cheap 304) before reusing it.
    response.headers["Cache-Control"] = "no-cache"
    return response


IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The `ETag` of a listing you already have: a 304 with no body when it is"
    " still current",
}


@events_blp.route("", parameters=[IF_NONE_MATCH])
class Events(MethodView):
    @events_blp.arguments(EventQuerySchema, location="query", as_kwargs=True)
    @events_blp.response(200, EventPageSchema, headers={"ETag": "ETag"})
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
        """
        config = current_app.config
        key = (catalog.EventFilters(**filters), page, page_size)
        cached = _listing_pages.get(key) if config["LISTING_CACHE_SECONDS"] > 0 else None
        if cached is None:
            result = catalog.list_events(
                db.session, key[0], page, page_size, count_ttl=config["LISTING_COUNT_CACHE_SECONDS"]
            )
            envelope = result.envelope(
                [listing_item(row, available) for row, available in result.items]
            )
            envelope["meta"] = {
                "page": page,
                "pageSize": page_size,
                "totalItems": result.total_items,
                "totalPages": result.total_pages,
            }
            body = json.dumps(envelope, separators=(",", ":")).encode()
            cached = (body, hashlib.blake2b(body, digest_size=12).hexdigest())
            if config["LISTING_CACHE_SECONDS"] > 0:
                _listing_pages.set(key, cached, config["LISTING_CACHE_SECONDS"])
        return conditional_json(*cached)


@events_blp.route(f"/<{ID}:eventId>")
class EventDetail(MethodView):
    @events_blp.response(200, EventEnvelopeSchema)
    @events_blp.alt_response(404, response="NOT_FOUND", description="No such event (or a draft)")
    def get(self, eventId: int):  # path parameters are wire names, so camelCase
        """Show one event with its ticket types

        Each ticket type says its price, how many seats are `available` (capacity minus sold
        minus seats held in other people's carts) and whether it is `onSale` now. Cancelled
        events are still shown (with `status: cancelled`) so ticket holders can look them up.
        """
        event, tiers = catalog.get_public_event(db.session, eventId)
        now = datetime.now(UTC)
        seats_left = sum(tier.available for tier in tiers)
        item = {
            "id": event.id,
            "title": event.title,
            "description": event.description,
            "status": event.status,
            "starts_at": event.starts_at,
            "ends_at": event.ends_at,
            "venue": {
                "id": event.venue_id,
                "name": event.venue_name,
                "city": event.venue_city,
                "address": event.venue_address,
            },
            "category": {"slug": event.category_slug, "name": event.category_name},
            "image_url": event.image_url,
            "price_from": money(event.price_from, event.currency),
            "tickets_available": seats_left,
            "sold_out": seats_left == 0,
            "ticket_types": [
                {
                    "id": tier.id,
                    "name": tier.name,
                    "description": tier.description,
                    "price": money(tier.price, tier.currency),
                    "capacity": tier.capacity,
                    "available": tier.available,
                    "sales_start": tier.sales_start,
                    "sales_end": tier.sales_end,
                    "on_sale": catalog.tier_on_sale(event, tier, now),
                    "max_per_order": tier.max_per_order,
                    "max_per_customer": tier.max_per_customer,
                }
                for tier in tiers
            ],
        }
        return {"data": item}


@categories_blp.route("")
class Categories(MethodView):
    @categories_blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    @categories_blp.response(200, CategoryPageSchema)
    def get(self, page: int, page_size: int):
        """List categories

        Sorted by name. Use a category's `slug` as the `category` filter of `GET /api/events`.
        """
        return catalog.list_categories(db.session, page, page_size).envelope()


@venues_blp.route("")
class Venues(MethodView):
    @venues_blp.arguments(VenueQuerySchema, location="query", as_kwargs=True)
    @venues_blp.response(200, VenuePageSchema)
    def get(self, page: int, page_size: int, city: str | None = None):
        """List venues

        Sorted by city, then name; `city` narrows to one city (case-insensitive).
        """
        return catalog.list_venues(db.session, city, page, page_size).envelope()
