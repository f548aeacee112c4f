"""Reading the public catalogue: the event listing with its filters, sorts and search, one event
with its tiers, categories and venues."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Row, Select, func, select, text
from sqlalchemy.orm import Session

from shop.cache import TtlCache
from shop.errors import EventNotFound
from shop.models import Category, Event, TicketType, Venue
from shop.pagination import Page, count_rows, paginate
from shop.services.availability import (
    HELD_SQL,
    available_by_event,
    held_by_ticket_type,
    seats_left_sql,
)

MAX_SEARCH_TERMS = 8
SORTS = {
    "startsAt": (Event.starts_at.asc(), Event.id.asc()),
    "-startsAt": (Event.starts_at.desc(), Event.id.desc()),
    "price": (Event.price_from.asc().nulls_last(), Event.id.asc()),
    "-price": (Event.price_from.desc().nulls_last(), Event.id.desc()),
    "title": (Event.title.asc(), Event.id.asc()),
}


@dataclass(frozen=True)
class EventFilters:
    q: str | None = None
    category: str | None = None
    city: str | None = None
    starts_from: datetime | None = None
    starts_to: datetime | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    available: bool | None = None
    sort: str = "startsAt"


def search_query(text: str) -> str | None:
    """Turn what a person typed into a prefix tsquery: every word must match, the last ones may be
    partial ("jazz cop" finds "Jazz in Copenhagen"). Only word characters reach PostgreSQL, so no
    input can break the tsquery syntax."""
    terms = re.findall(r"\w+", text.lower())[:MAX_SEARCH_TERMS]
    return " & ".join(f"{term}:*" for term in terms) or None


def event_listing(filters: EventFilters) -> Select:
    """The published events matching `filters`, sorted (ties broken by id). Upcoming only,
    unless `starts_from` reaches into the past. Venue and category are joined only when a filter
    needs them, so counting the matches stays an index scan on `event` alone."""
    statement = (
        select(Event)
        .where(Event.status == "published")
        .where(Event.starts_at >= (filters.starts_from or func.now()))
    )
    if filters.starts_to is not None:
        statement = statement.where(Event.starts_at <= filters.starts_to)
    if filters.q:
        tsquery = search_query(filters.q)
        if tsquery is None:
            statement = statement.where(False)
        else:
            statement = statement.where(
                Event.search_vector.op("@@")(func.to_tsquery("shop_search", tsquery))
            )
    if filters.category:
        statement = statement.join(Event.category).where(Category.slug == filters.category)
    if filters.city:
        statement = statement.join(Event.venue).where(
            func.lower(Venue.city) == filters.city.strip().lower()
        )
    if filters.min_price is not None:
        statement = statement.where(Event.price_from >= filters.min_price)
    if filters.max_price is not None:
        statement = statement.where(Event.price_from <= filters.max_price)
    if filters.available:
        held = held_by_ticket_type()
        seats_left = (
            select(TicketType.id)
            .outerjoin(held, held.c.ticket_type_id == TicketType.id)
            .where(
                TicketType.event_id == Event.id,
                TicketType.capacity > TicketType.sold + func.coalesce(held.c.held, 0),
            )
        )
        statement = statement.where(seats_left.exists())
    return statement.order_by(*SORTS[filters.sort])


# The columns a listing item shows: plain rows, no ORM objects to build for a hot page.
PAGE_COLUMNS = (
    Event.id,
    Event.title,
    Event.starts_at,
    Event.ends_at,
    Event.image_url,
    Event.price_from,
    Event.currency,
    Venue.id.label("venue_id"),
    Venue.name.label("venue_name"),
    Venue.city.label("venue_city"),
    Category.slug.label("category_slug"),
    Category.name.label("category_name"),
)


def listing_page_statement(filters: EventFilters, limit: int, offset: int) -> Select:
    """One page of `event_listing` with the item's columns.

    A deferred join: the inner query finds the page's ids (walking only the sort index past
    `offset` rows), the outer one fetches columns and joins venue and category for those 20
    alone, so page 400 costs about what page 1 does instead of joining 8 000 skipped rows."""
    page_ids = event_listing(filters).with_only_columns(Event.id).limit(limit).offset(offset)
    return (
        select(*PAGE_COLUMNS)
        .join_from(Event, Venue, Venue.id == Event.venue_id)
        .join_from(Event, Category, Category.id == Event.category_id)
        .where(Event.id.in_(page_ids.scalar_subquery()))
        .order_by(*SORTS[filters.sort])
    )


# Listing totals per filter set: counting tens of thousands of matches costs more than the page.
_listing_totals = TtlCache(maxsize=1024)


def list_events(
    session: Session, filters: EventFilters, page: int, page_size: int, *, count_ttl: float = 0
) -> Page:
    """One page of the listing as rows (with `tickets_available` added): count, page and
    availability, three queries whatever the page size. With `count_ttl` > 0 the total is
    reused for that many seconds (per process)."""
    total = _listing_totals.get(filters) if count_ttl > 0 else None
    if total is None:
        total = count_rows(session, event_listing(filters))
        if count_ttl > 0:
            _listing_totals.set(filters, total, count_ttl)
    rows = []
    if total and (page - 1) * page_size < total:
        statement = listing_page_statement(filters, page_size, (page - 1) * page_size)
        # Core execution: plain rows need none of the ORM's entity machinery.
        rows = session.connection().execute(statement).all()
    available = available_by_event(session, [row.id for row in rows])
    items = [(row, available.get(row.id, 0)) for row in rows]
    return Page(items=items, page=page, page_size=page_size, total_items=total)


EVENT_DETAIL_COLUMNS = (
    *PAGE_COLUMNS,
    Event.description,
    Event.status,
    Venue.address.label("venue_address"),
)

# The event's tiers with their availability for the public, in one constant statement.
TIERS_WITH_AVAILABILITY = text(
    f"""
    WITH held AS (
        {
        HELD_SQL.format(
            tier_filter="ci.ticket_type_id IN"
            " (SELECT id FROM ticket_type WHERE event_id = :event_id)"
        )
    }
    )
    SELECT t.id, t.name, t.description, t.price, t.currency, t.capacity, t.sales_start,
           t.sales_end, t.max_per_order, t.max_per_customer,
           {seats_left_sql("t.capacity", "t.sold", "held.held")}::int AS available
    FROM ticket_type t LEFT JOIN held ON held.ticket_type_id = t.id
    WHERE t.event_id = :event_id
    ORDER BY t.price, t.id
    """
)


def get_public_event(session: Session, event_id: int) -> tuple[Row, list[Row]]:
    """A published or cancelled event (as a row, with venue and category columns) and its
    tiers with each one's availability: two queries. Drafts do not exist for the public: 404."""
    connection = session.connection()
    event = connection.execute(
        select(*EVENT_DETAIL_COLUMNS)
        .join_from(Event, Venue, Venue.id == Event.venue_id)
        .join_from(Event, Category, Category.id == Event.category_id)
        .where(Event.id == event_id, Event.status != "draft")
    ).first()
    if event is None:
        raise EventNotFound(
            f"There is no event {event_id}. Check the id, or list events at /api/events."
        )
    tiers = connection.execute(TIERS_WITH_AVAILABILITY, {"event_id": event_id}).all()
    return event, tiers


def tier_on_sale(event, tier, now: datetime) -> bool:
    """Can this tier be bought right now (ignoring whether seats are left)? Takes models or
    rows: anything with the event's `status`/`starts_at` and the tier's sales window."""
    return (
        event.status == "published"
        and event.starts_at > now
        and (tier.sales_start is None or tier.sales_start <= now)
        and (tier.sales_end is None or now < tier.sales_end)
    )


def list_categories(session: Session, page: int, page_size: int) -> Page:
    return paginate(session, select(Category).order_by(Category.name, Category.id), page, page_size)


def list_venues(session: Session, city: str | None, page: int, page_size: int) -> Page:
    statement = select(Venue).order_by(Venue.city, Venue.name, Venue.id)
    if city:
        statement = statement.where(func.lower(Venue.city) == city.strip().lower())
    return paginate(session, statement, page, page_size)
