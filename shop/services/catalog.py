"""Reading the public catalogue: the event listing with its filters, sorts and search, one event
with its tiers, categories and venues."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from shop.database import single_statement_reads
from shop.models import Category, Event, TicketType, Venue
from shop.pagination import Page, paginate
from shop.services.availability import available_expression, held_by_ticket_type
from shop.services.errors import EventNotFound

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


def filter_values(filters: EventFilters) -> dict[str, Any]:
    """The values `event_listing` binds, by parameter name (None: that filter is not used)."""
    return {
        "starts_from": filters.starts_from,
        "starts_to": filters.starts_to,
        "tsquery": search_query(filters.q) if filters.q else None,
        "category": filters.category or None,
        "city": filters.city.strip().lower() if filters.city else None,
        "min_price": filters.min_price,
        "max_price": filters.max_price,
    }


def event_listing(filters: EventFilters) -> Select:
    """The published events matching `filters`, sorted (ties broken by id). Upcoming only,
    unless `starts_from` reaches into the past. Venue and category are joined only when a filter
    needs them, so counting the matches stays an index scan on `event` alone.

    Every value is a bind parameter named as in `filter_values`, so the statement's SQL depends
    only on which filters are used (see `listing_json`)."""
    values = filter_values(filters)

    def value(name: str):
        return bindparam(name, values[name])

    statement = select(Event).where(Event.status == "published")
    if values["starts_from"] is None:
        statement = statement.where(Event.starts_at >= func.now())
    else:
        statement = statement.where(Event.starts_at >= value("starts_from"))
    if values["starts_to"] is not None:
        statement = statement.where(Event.starts_at <= value("starts_to"))
    if filters.q and values["tsquery"] is None:  # nothing searchable was typed: no match
        statement = statement.where(False)
    elif values["tsquery"] is not None:
        tsquery = func.to_tsquery(literal_column("'shop_search'"), value("tsquery"))
        statement = statement.where(Event.search_vector.op("@@")(tsquery))
    if values["category"] is not None:
        statement = statement.join(Event.category).where(Category.slug == value("category"))
    if values["city"] is not None:
        statement = statement.join(Event.venue).where(func.lower(Venue.city) == value("city"))
    if values["min_price"] is not None:
        statement = statement.where(Event.price_from >= value("min_price"))
    if values["max_price"] is not None:
        statement = statement.where(Event.price_from <= value("max_price"))
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


# The listing counts matches up to a cap and serves pages within it. Counting is the part of a
# listing whose cost grows with the catalogue (every match is visited; for a search, every
# matching row of the table); with a cap a page costs about the same on 10 000 or 10 million
# events. Browsing reaches 10 000 events (500 pages of 20: Elasticsearch's `max_result_window`
# has the same default); a search (`q`) reaches its 1 000 soonest matches (50 pages of 20),
# which is where people stop paging and type another word.
MAX_LISTED_MATCHES = 10_000
MAX_SEARCH_MATCHES = 1_000


def match_cap(filters: EventFilters) -> int:
    """How many matches the listing counts and pages through for these filters."""
    return MAX_SEARCH_MATCHES if filters.q else MAX_LISTED_MATCHES


def json_key(name: str):
    """A constant key for json_build_object, written into the SQL (a bound parameter would reach
    PostgreSQL untyped, which json_build_object refuses)."""
    return literal_column(f"'{name}'")


def iso_utc(column):
    """A timestamptz as the API writes it (marshmallow's `isoformat()` of a UTC datetime):
    `2026-12-01T19:30:00+00:00`, with `.ffffff` only when there are fractions of a second."""
    utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
    return (
        func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
        + case(
            (func.date_trunc("second", column) == column, ""),
            else_=func.to_char(utc, ".US"),
        )
        + literal_column("'+00:00'")
    )


def money_json(amount, currency):
    """Money as the API writes it, or JSON null: NUMERIC(10, 2) as text keeps its two places."""
    return case(
        (amount.is_(None), null()),
        else_=func.json_build_object(
            json_key("amount"), cast(amount, Text), json_key("currency"), currency
        ),
    )


def seats_left_for_event(event_id) -> ColumnElement[int]:
    """Correlated scalar: seats left over every tier of `event_id` (availability.py's rule)."""
    return (
        select(cast(func.coalesce(func.sum(available_expression()), 0), Integer))
        .where(TicketType.event_id == event_id)
        .scalar_subquery()
    )


def listing_json_statement(filters: EventFilters) -> Select:
    """The whole listing answer (`{"data": [...], "meta": {...}}`) as JSON text, built by
    PostgreSQL in one statement: count, page and availability in one round trip, and no Python
    object per row. It produces exactly what EventPageSchema documents (a test compares).

    The count stops at the cap (`match_cap`, see MAX_LISTED_MATCHES); pages end there too, so
    `totalItems` always agrees with the pages. Page values are bind parameters (named as in
    `page_values`), like the filters'."""
    rows = (
        listing_page_statement(
            filters, bindparam("page_limit", type_=Integer), bindparam("page_offset", type_=Integer)
        )
        .add_columns(
            seats_left_for_event(Event.id).label("tickets_available"),
            func.row_number().over(order_by=SORTS[filters.sort]).label("position"),
        )
        .subquery("page_rows")
    )
    item = func.json_build_object(
        json_key("id"), rows.c.id,
        json_key("title"), rows.c.title,
        json_key("startsAt"), iso_utc(rows.c.starts_at),
        json_key("endsAt"), iso_utc(rows.c.ends_at),
        json_key("venue"), func.json_build_object(
            json_key("id"), rows.c.venue_id,
            json_key("name"), rows.c.venue_name,
            json_key("city"), rows.c.venue_city,
        ),
        json_key("category"), func.json_build_object(
            json_key("slug"), rows.c.category_slug, json_key("name"), rows.c.category_name
        ),
        json_key("imageUrl"), rows.c.image_url,
        json_key("priceFrom"), money_json(rows.c.price_from, rows.c.currency),
        json_key("ticketsAvailable"), rows.c.tickets_available,
        json_key("soldOut"), rows.c.tickets_available == 0,
    )  # fmt: skip
    items = (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(item, rows.c.position)),
                literal_column("'[]'::json"),
            )
        )
        .select_from(rows)
        .scalar_subquery()
    )
    # min(matches, cap): a walk that stops at the cap instead of visiting every match.
    matches = (
        event_listing(filters)
        .with_only_columns(literal_column("1"))
        .order_by(None)
        .limit(match_cap(filters))
        .subquery("matches")
    )
    counted = (
        select(cast(func.count(), Integer).label("total_items"))
        .select_from(matches)
        .subquery("counted")
    )
    total = counted.c.total_items
    page_size = bindparam("page_size", type_=Integer)
    meta = func.json_build_object(
        json_key("page"), bindparam("page", type_=Integer),
        json_key("pageSize"), page_size,
        json_key("totalItems"), total,
        json_key("totalPages"), (total + page_size - 1) // page_size,
    )  # fmt: skip
    body = func.json_build_object(json_key("data"), items, json_key("meta"), meta)
    return select(cast(body, Text)).select_from(counted)


def page_values(page: int, page_size: int, cap: int) -> dict[str, int]:
    """The page's bind parameters for listing_json_statement; pages end at `cap` matches."""
    offset = (page - 1) * page_size
    return {
        "page": page,
        "page_size": page_size,
        "page_offset": offset,
        # Pages end at the cap, like the count.
        "page_limit": max(0, min(page_size, cap - offset)),
    }


def compile_once(statement: Select, dialect, value_names) -> str:
    """The statement's SQL with every constant written into it, and only `value_names` left as
    parameters (`%(name)s`).

    The text is compiled once and psycopg prepares what it sees repeatedly, so PostgreSQL may
    plan it once for any values. A constant left as a parameter would then be unknown to that
    plan: `status = $3` cannot use the indexes made for `status = 'published'` (or the live-hold
    index for `status = 'active'`). Written in, the event detail measured 0.2 ms instead of
    1.5 ms a statement."""
    compiled = statement.compile(dialect=dialect)
    sql = str(compiled)
    for name, value in compiled.params.items():
        if name in value_names:
            continue
        literal = compiled.render_literal_value(value, compiled.binds[name].type)
        # psycopg reads `%` as the start of a placeholder: a literal one is written `%%`.
        sql = sql.replace(f"%({name})s", literal.replace("%", "%%"))
    return sql


# SQL text of listing_json_statement per shape of filters (which ones are used, the sort).
_listing_sql: dict[tuple, str] = {}


def listing_json(session: Session, filters: EventFilters, page: int, page_size: int) -> bytes:
    """One page of the public listing, as the response body (see listing_json_statement).

    Building and compiling a statement of this size costs more Python time than PostgreSQL
    spends running it, and its SQL depends only on which filters are used (every value is a
    named bind parameter). So each shape is compiled once per process (`compile_once`) and
    then only executed with the request's values."""
    values = {**filter_values(filters), **page_values(page, page_size, match_cap(filters))}
    shape = (
        filters.sort,
        bool(filters.available),
        bool(filters.q),
        *(name for name, value in values.items() if value is None),
    )
    sql = _listing_sql.get(shape)
    if sql is None:
        dialect = session.get_bind().dialect
        sql = _listing_sql[shape] = compile_once(listing_json_statement(filters), dialect, values)
    with single_statement_reads(session):
        return _run_listing(session, sql, values, search=bool(filters.q))


def _run_listing(session: Session, sql: str, params: dict[str, Any], *, search: bool) -> bytes:
    connection = session.connection()
    if not search:
        return connection.exec_driver_sql(sql, params).scalar_one().encode()
    # psycopg prepares a statement it has run five times on a connection, and PostgreSQL may
    # then plan it once for any values. Good for browsing; but a search's best plan depends on
    # how common its words are (a generic plan was 10x slower for some), so a search is not
    # prepared: PostgreSQL plans it for its own words every time.
    driver = connection.connection.driver_connection
    threshold, driver.prepare_threshold = driver.prepare_threshold, None
    try:
        return connection.exec_driver_sql(sql, params).scalar_one().encode()
    finally:
        driver.prepare_threshold = threshold


def on_sale_expression(now=None) -> ColumnElement[bool]:
    """tier_on_sale() in SQL, for the Event and TicketType of the surrounding query."""
    now = func.now() if now is None else now
    return and_(
        Event.status == "published",
        Event.starts_at > now,
        or_(TicketType.sales_start.is_(None), TicketType.sales_start <= now),
        or_(TicketType.sales_end.is_(None), now < TicketType.sales_end),
    )


def event_json_statement() -> Select:
    """A published or cancelled event with its tiers (cheapest first, each with its availability
    and whether it is on sale) as EventEnvelopeSchema's JSON, in one statement; no row for a
    draft or an unknown id. The id is the bind parameter `event_id`."""
    tier = func.json_build_object(
        json_key("id"), TicketType.id,
        json_key("name"), TicketType.name,
        json_key("description"), TicketType.description,
        json_key("price"), money_json(TicketType.price, TicketType.currency),
        json_key("capacity"), TicketType.capacity,
        json_key("available"), available_expression(),
        json_key("salesStart"), case(
            (TicketType.sales_start.is_(None), null()), else_=iso_utc(TicketType.sales_start)
        ),
        json_key("salesEnd"), case(
            (TicketType.sales_end.is_(None), null()), else_=iso_utc(TicketType.sales_end)
        ),
        json_key("onSale"), on_sale_expression(),
        json_key("maxPerOrder"), TicketType.max_per_order,
        json_key("maxPerCustomer"), TicketType.max_per_customer,
    )  # fmt: skip
    tiers = (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(tier, TicketType.price, TicketType.id)),
                literal_column("'[]'::json"),
            )
        )
        .where(TicketType.event_id == Event.id)
        .scalar_subquery()
    )
    seats_left = seats_left_for_event(Event.id)
    item = func.json_build_object(
        json_key("id"), Event.id,
        json_key("title"), Event.title,
        json_key("startsAt"), iso_utc(Event.starts_at),
        json_key("endsAt"), iso_utc(Event.ends_at),
        json_key("venue"), func.json_build_object(
            json_key("id"), Venue.id,
            json_key("name"), Venue.name,
            json_key("city"), Venue.city,
            json_key("address"), Venue.address,
        ),
        json_key("category"), func.json_build_object(
            json_key("slug"), Category.slug, json_key("name"), Category.name
        ),
        json_key("imageUrl"), Event.image_url,
        json_key("priceFrom"), money_json(Event.price_from, Event.currency),
        json_key("ticketsAvailable"), seats_left,
        json_key("soldOut"), seats_left == 0,
        json_key("description"), Event.description,
        json_key("status"), Event.status,
        json_key("ticketTypes"), tiers,
    )  # fmt: skip
    return (
        select(cast(func.json_build_object(json_key("data"), item), Text))
        .join_from(Event, Venue, Venue.id == Event.venue_id)
        .join_from(Event, Category, Category.id == Event.category_id)
        .where(Event.id == bindparam("event_id", type_=Integer), Event.status != "draft")
    )


_event_sql: list[str] = []


def public_event_json(session: Session, event_id: int) -> bytes:
    """A published or cancelled event with its tiers, as the response body. Drafts do not exist
    for the public: 404. Compiled once per process, like the listing (see compile_once)."""
    if not _event_sql:
        dialect = session.get_bind().dialect
        _event_sql.append(compile_once(event_json_statement(), dialect, {"event_id"}))
    with single_statement_reads(session):
        result = session.connection().exec_driver_sql(_event_sql[0], {"event_id": event_id})
        body = result.scalar_one_or_none()
    if body is None:
        raise EventNotFound(f"There is no event {event_id}.")
    return body.encode()


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
