"""The catalogue's response bodies, written as JSON by PostgreSQL.

A listing page or an event detail is one SQL statement that returns the whole answer
(`{"data": ..., "meta": ...}`) as text, built with `json_build_object`/`json_agg`: one round trip,
and no Python object per row. The keys and formats are the API's (camelCase, Money, ISO times in
UTC), so the statements here are presentation, next to the routes; what is listed, and the seats
left, are the service's rules (`shop.services.catalog`, `shop.services.availability`).

tests/test_catalog.py compares both bodies with what `EventPageSchema`/`EventEnvelopeSchema` dump
for the same rows, keys in the same order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import Connection

from shop.database import read_bytes, read_value
from shop.models import Category, Event, EventStatus, TicketType, Venue
from shop.services.availability import available_expression
from shop.services.catalog import (
    EventFilters,
    filter_values,
    listing_page,
    match_cap,
    on_sale_expression,
    planned_once,
    seats_left_for_event,
    sort_keys,
)
from shop.services.errors import EventNotFound


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


# --- the listing ---------------------------------------------------------------------------------

# A listing page's JSON, written by `format()` from templates rather than by json_build_object
# and json_agg, byte for byte what those write (`"key" : value`, ", " between items and keys):
# json_build_object works out, on every call, how to write each of its arguments (the keys
# too), ~0.2 µs an argument; a page of 20 items has ~600. Written from one template per item,
# with each string quoted and escaped by `to_json` (the escaping json_build_object uses),
# PostgreSQL's CPU per page is ~10 % less (197 -> 173 µs for page 1 of every event, measured
# by alternating the two statements on one catalogue). tests/test_catalog.py compares the
# bytes with json_build_object's on values that need escaping, nulls and fractions of a second.
# (SQLAlchemy doubles each `%` for psycopg, whose placeholders start with one.)
LISTING_ITEM = (
    """'{"id" : %s, "title" : %s, "startsAt" : "%s", "endsAt" : "%s", """
    """"venue" : {"id" : %s, "name" : %s, "city" : %s}, "category" : {"slug" : %s, """
    """"name" : %s}, "imageUrl" : %s, "priceFrom" : %s, "ticketsAvailable" : %s, """
    """"soldOut" : %s}'"""
)
MONEY = """'{"amount" : "%s", "currency" : %s}'"""
LISTING_PAGE = """'{"data" : [%s], "meta" : %s}'"""


def json_text(value):
    """`value` as JSON text, as json_build_object writes it: a string quoted and escaped, NULL as
    null."""
    return func.coalesce(cast(func.to_json(value), Text), literal_column("'null'"))


def listing_json_statement(filters: EventFilters) -> Select:
    """The whole listing answer (`{"data": [...], "meta": {...}}`) as JSON text: count, page and
    availability in one round trip. It produces exactly what EventPageSchema documents.

    The service's `listing_page` says which events (their ids, in order) and how many match (up
    to the cap); this adds each item's columns with a deferred join: venue and category are
    joined for the page's 20 ids alone, so page 400 costs about what page 1 does."""
    page = listing_page(filters)
    on_the_page: ColumnElement[bool]
    if filters.q:
        on_the_page = Event.id.in_(page.ids.scalar_subquery())  # as `_search_page` plans it
    else:
        # The page's ids as an array, `id = ANY(ARRAY[...])`: the planner counts on a handful
        # of elements and fetches each by primary key, whatever it guesses about the page. With
        # `id IN (page)` a generic plan, which cannot see the LIMIT, guesses the page holds a
        # tenth of the matches and reads the whole table to hash-join them (27 ms instead of
        # 0.5 ms on 100 000 events).
        page_ids = page.ids.subquery("page_ids")
        id_array = select(func.array_agg(page_ids.c.id)).scalar_subquery()
        on_the_page = Event.id == func.any(cast(id_array, ARRAY(Integer)))
    rows = (
        select(
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
            seats_left_for_event(Event.id).label("tickets_available"),
            func.row_number().over(order_by=sort_keys(filters.sort)).label("position"),
        )
        .join_from(Event, Venue, Venue.id == Event.venue_id)
        .join_from(Event, Category, Category.id == Event.category_id)
        .where(on_the_page)
        .subquery("page_rows")
    )
    # Each item written as text from one template (`LISTING_ITEM`, see there why), joined
    # with ", " between "[" and "]" as json_agg writes an array.
    item = func.format(
        literal_column(LISTING_ITEM),
        cast(rows.c.id, Text),
        json_text(rows.c.title),
        iso_utc(rows.c.starts_at),
        iso_utc(rows.c.ends_at),
        cast(rows.c.venue_id, Text),
        json_text(rows.c.venue_name),
        json_text(rows.c.venue_city),
        json_text(rows.c.category_slug),
        json_text(rows.c.category_name),
        json_text(rows.c.image_url),
        case(
            (rows.c.price_from.is_(None), literal_column("'null'")),
            else_=func.format(
                literal_column(MONEY), cast(rows.c.price_from, Text), json_text(rows.c.currency)
            ),
        ),
        cast(rows.c.tickets_available, Text),
        cast(rows.c.tickets_available == 0, Text),
    )
    items = (
        select(
            func.coalesce(
                func.string_agg(item, aggregate_order_by(literal_column("', '"), rows.c.position)),
                literal_column("''"),
            )
        )
        .select_from(rows)
        .scalar_subquery()
    )
    total = page.total.subquery("counted").c.total_items
    page_size = bindparam("page_size", type_=Integer)
    meta = func.json_build_object(
        json_key("page"), bindparam("page", type_=Integer),
        json_key("pageSize"), page_size,
        json_key("totalItems"), total,
        json_key("totalPages"), (total + page_size - 1) // page_size,
    )  # fmt: skip
    return select(func.format(literal_column(LISTING_PAGE), items, cast(meta, Text)))


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


def listing_sql(
    filters: EventFilters, page: int, page_size: int, dialect
) -> tuple[str, dict[str, Any]]:
    """The listing statement's SQL for the shape of `filters` (compiled once per process, see
    listing_json) and this page's values for it."""
    values = {**filter_values(filters), **page_values(page, page_size, match_cap(filters))}
    shape = (
        filters.sort,
        bool(filters.available),
        bool(filters.q),
        match_cap(filters),
        *(name for name, value in values.items() if value is None),
    )
    sql = _listing_sql.get(shape)
    if sql is None:
        sql = _listing_sql[shape] = compile_once(listing_json_statement(filters), dialect, values)
    return sql, values


def listing_json(connection: Connection, filters: EventFilters, page: int, page_size: int) -> bytes:
    """One page of the public listing, as the response body (see listing_json_statement).

    Building and compiling a statement of this size costs more Python time than PostgreSQL
    spends running it, and its SQL depends only on which filters are used (every value is a
    named bind parameter). So each shape is compiled once per process (`compile_once`) and
    then only executed with the request's values.

    Runs on `connection` (`shop.database.public_read`), not on the request's session, like the
    detail: the statement is the whole request.

    A listing whose best plan depends on its values (a price range, dates, `available`: see
    `shop.services.catalog.listing_page`) is planned with them on every run: PostgreSQL is told
    so for that statement (`plan_cache_mode`), or, once psycopg has prepared it, it may settle
    on a generic plan that guesses a price range matches 0.5 % of the events and collects and
    sorts all of them when they are 70 % (9-20 ms instead of 2 ms on 100 000 events)."""
    sql, values = listing_sql(filters, page, page_size, connection.dialect)
    # (The body is the bytes PostgreSQL sent: `read_bytes` hands the statement to libpq.)
    if filters.q or planned_once(filters):
        return _listing_body(read_bytes(connection, sql, values))
    # (The setting and its reset go through `read_value`'s fast path too: SQLAlchemy's
    # `exec_driver_sql` cost ~20 µs more of the worker's CPU for each. Not sending the statement
    # prepared instead, `prepare=False`, would save both round trips, but then PostgreSQL parses
    # this ~10 KB statement on every run: +330-430 µs of its CPU a listing, measured.)
    read_value(connection, "SET plan_cache_mode = force_custom_plan", {})
    try:
        body = read_bytes(connection, sql, values)
    except Exception:
        # Not back to the pool with the setting: discard the connection.
        connection.invalidate()
        raise
    read_value(connection, "RESET plan_cache_mode", {})
    return _listing_body(body)


def _listing_body(body: bytes | None) -> bytes:
    if body is None:  # (the statement always returns its one row)
        raise RuntimeError("The listing statement returned no row")
    return body


# --- one event -----------------------------------------------------------------------------------


def event_json_statement() -> Select:
    """A published or cancelled event with its tiers (cheapest first, each with its availability
    and whether it is on sale) as EventEnvelopeSchema's JSON, in one statement; no row for a
    draft or an unknown id. The id is the bind parameter `event_id`.

    The event's tiers are read once, in a LATERAL join (`event_tiers`) that returns both the
    `ticketTypes` array and the event's seats left (`ticketsAvailable`, `soldOut`). Each tier's
    seats left (`available_expression`, which sums the live holds) is worked out once per tier,
    in the inner `tiers` rows, and both aggregates read that column. The inner rows end in
    `OFFSET 0` on purpose: without it PostgreSQL merges them into the aggregate above and
    writes `available_expression` into both aggregates again, summing the live holds twice.
    (Built as two subqueries, the array and the seats left, PostgreSQL read the tiers twice
    and summed the live holds twice: ~58 µs of its CPU per detail against ~45 µs now, most of
    it starting up the plan's nodes, which every execution does for every node.)"""
    tiers = (
        select(
            TicketType.id,
            TicketType.name,
            TicketType.description,
            TicketType.price,
            TicketType.currency,
            TicketType.capacity,
            available_expression().label("available"),
            TicketType.sales_start,
            TicketType.sales_end,
            on_sale_expression().label("on_sale"),
            TicketType.max_per_order,
            TicketType.max_per_customer,
        )
        .where(TicketType.event_id == Event.id)
        .correlate(Event)
        .offset(0)  # keeps these rows apart, so `available` is worked out once (docstring)
        .lateral("tiers")
    )
    tier = func.json_build_object(
        json_key("id"), tiers.c.id,
        json_key("name"), tiers.c.name,
        json_key("description"), tiers.c.description,
        json_key("price"), money_json(tiers.c.price, tiers.c.currency),
        json_key("capacity"), tiers.c.capacity,
        json_key("available"), tiers.c.available,
        json_key("salesStart"), case(
            (tiers.c.sales_start.is_(None), null()), else_=iso_utc(tiers.c.sales_start)
        ),
        json_key("salesEnd"), case(
            (tiers.c.sales_end.is_(None), null()), else_=iso_utc(tiers.c.sales_end)
        ),
        json_key("onSale"), tiers.c.on_sale,
        json_key("maxPerOrder"), tiers.c.max_per_order,
        json_key("maxPerCustomer"), tiers.c.max_per_customer,
    )  # fmt: skip
    event_tiers = (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(tier, tiers.c.price, tiers.c.id)),
                literal_column("'[]'::json"),
            ).label("ticket_types"),
            cast(func.coalesce(func.sum(tiers.c.available), 0), Integer).label("seats_left"),
        )
        .select_from(tiers)
        .lateral("event_tiers")
    )
    seats_left = event_tiers.c.seats_left
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
        json_key("ticketTypes"), event_tiers.c.ticket_types,
    )  # fmt: skip
    return (
        select(cast(func.json_build_object(json_key("data"), item), Text))
        .join_from(Event, Venue, Venue.id == Event.venue_id)
        .join_from(Event, Category, Category.id == Event.category_id)
        .join_from(Event, event_tiers, true())
        .where(Event.id == bindparam("event_id", type_=Integer), Event.status != EventStatus.DRAFT)
    )


_event_sql: list[str] = []


def public_event_json(connection: Connection, event_id: int) -> bytes:
    """A published or cancelled event with its tiers, as the response body. Drafts do not exist
    for the public: 404. Compiled once per process, like the listing (see compile_once).

    Runs on `connection` (`shop.database.public_read`), not on the request's session: the
    statement is the whole request, so the session's own bookkeeping would cost more than the
    statement does. The body is the bytes PostgreSQL sent (`shop.database.read_bytes`: libpq
    runs the statement, without psycopg's cursor)."""
    if not _event_sql:
        _event_sql.append(compile_once(event_json_statement(), connection.dialect, {"event_id"}))
    body = read_bytes(connection, _event_sql[0], {"event_id": event_id})
    if body is None:
        raise EventNotFound(f"There is no event {event_id}.")
    return body
