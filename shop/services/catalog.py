"""The public catalogue's rules: which events are listed (filters, sorts, search, the caps on
counting), which tiers are on sale, seats left per event; categories and venues.

The response bodies built on these rules (camelCase JSON written by PostgreSQL) are the HTTP
layer's: `shop/catalog/json_bodies.py`."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    SelectBase,
    SQLColumnExpression,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from shop.models import (
    Category,
    Event,
    EventSearchWord,
    EventStatus,
    PublishedEventDay,
    TicketType,
    Venue,
)
from shop.pagination import Page, paginate
from shop.services.availability import available_expression, held_by_ticket_type

MAX_SEARCH_TERMS = 8
# Each sort: the column and whether it descends. Ties are broken by id in the same direction;
# events without a price (no tiers yet) come last either way.
SORTS = {
    "starts_at": ("starts_at", False),
    "-starts_at": ("starts_at", True),
    "price": ("price_from", False),
    "-price": ("price_from", True),
    "title": ("title", False),
}


def sort_keys(sort: str, columns: Any = Event) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """ORDER BY for `sort` over `columns`: the Event model, or a subquery's `.c` with the same
    column names."""
    name, descending = SORTS[sort]
    column, event_id = getattr(columns, name), columns.id
    key = column.desc() if descending else column.asc()
    if name == "price_from":
        key = key.nulls_last()
    return key, (event_id.desc() if descending else event_id.asc())


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
    sort: str = "starts_at"


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


def city_venue_ids(city: ColumnElement[str]) -> ColumnElement[Any]:
    """The ids of the venues in `city` (lower case), as an array (NULL: none)."""
    venue_ids = select(func.array_agg(Venue.id)).where(func.lower(Venue.city) == city)
    return cast(venue_ids.scalar_subquery(), ARRAY(Integer))


def event_listing(filters: EventFilters, *, planned_once: bool = False) -> Select[Event]:
    """The published events matching `filters`, sorted (ties broken by id). Upcoming only,
    unless `starts_from` reaches into the past. Venue and category are joined only when a filter
    needs them, so counting the matches stays an index scan on `event` alone.

    Every value is a bind parameter named as in `filter_values`, so the statement's SQL depends
    only on which filters are used (see `listing_json`). `planned_once`: for a statement
    PostgreSQL plans once for any values (`listing_page`), the city is its venues' ids, so no
    plan depends on which city it is."""
    values = filter_values(filters)

    def value(name: str) -> BindParameter[Any]:
        return bindparam(name, values[name])

    statement = select(Event).where(Event.status == EventStatus.PUBLISHED)
    if values["starts_from"] is None:
        statement = statement.where(Event.starts_at >= func.now())
    else:
        statement = statement.where(Event.starts_at >= value("starts_from"))
    if values["starts_to"] is not None:
        statement = statement.where(Event.starts_at <= value("starts_to"))
    if filters.q and values["tsquery"] is None:  # nothing searchable was typed: no match
        statement = statement.where(false())
    elif values["tsquery"] is not None:
        tsquery = func.to_tsquery(literal_column("'shop_search'"), value("tsquery"))
        statement = statement.where(Event.search_vector.op("@@")(tsquery))
    # An unknown category or city matches nothing: `... IS NOT NULL` on its id(s) (a value
    # computed once, an InitPlan) is a "One-Time Filter" in the plan, checked before any event is
    # read. Without it a generic plan walks every upcoming event to find none (4 ms on 100 000).
    if values["category"] is not None:
        # The category's id as a value (an InitPlan), not a join: the planner then reads one
        # range of the (category, venue) index per venue of a city on every PostgreSQL we
        # support (15 would not, given two joined tables to take its keys from).
        category_id = select(Category.id).where(Category.slug == value("category"))
        statement = statement.where(
            category_id.scalar_subquery().is_not(None),
            Event.category_id == category_id.scalar_subquery(),
        )
    if values["city"] is not None and planned_once:
        # The city's venues as an array (an InitPlan's value), compared with each event's
        # venue_id: a walk along a sort index checks it from the index alone (migration 0008),
        # and one plan suits every city.
        venue_ids = city_venue_ids(value("city"))
        statement = statement.where(venue_ids.is_not(None), Event.venue_id == func.any(venue_ids))
    elif values["city"] is not None:
        # Joined, so a plan made for this city knows how many events its venues have (a search
        # in a city combines the full-text index with the venues' ranges of an index).
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
    return statement.order_by(*sort_keys(filters.sort))


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


@dataclass(frozen=True)
class ListingPage:
    """One page of `event_listing`, as SQL for the presentation to build on.

    `ids`: the page's event ids in listing order (bind parameters `page_limit`, `page_offset`);
    `total`: one row, `total_items`: how many events match, counted up to the cap
    (`match_cap`). An aggregate, so PostgreSQL computes it once however often it is used."""

    ids: SelectBase
    total: Select[int]


def planned_once(filters: EventFilters) -> bool:
    """Every upcoming event, a category's, a city's or a category's in a city, in any sort: the
    listings one plan suits whatever the page, category or city (walk the sort's index to the
    page), so PostgreSQL may plan their statement once (see `listing_page`)."""
    return filters == EventFilters(category=filters.category, city=filters.city, sort=filters.sort)


def listing_page(filters: EventFilters) -> ListingPage:
    """The ids of one page of the listing and its capped count, for one SQL statement.

    Values are bind parameters (see `event_listing`), so the SQL depends only on which filters
    are used and the sort.

    Planned once. PostgreSQL plans a statement every time it runs, unless the statement is
    prepared (psycopg prepares what runs 5 times on a connection) and, after planning it with
    its values 5 times, PostgreSQL finds its generic plan (made without the values) no costlier.
    A page's LIMIT and OFFSET seen as values made every plan with them look cheaper than the
    generic one, so PostgreSQL planned the listing again for every request: ~0.45 ms of
    planning for 0.3-0.6 ms of running it (`bench/explain_catalog.py --plans`). For every
    upcoming event, a category's or a city's (`planned_once`: most of what visitors ask for)
    one plan suits every value: walk the sort's index to the page, checking the category and
    the city's venues in the index (migration 0008). So nothing in their statement is seen by
    the planner: the category and the city's venues are InitPlans' values (`event_listing`),
    and the page's size and offset are scalar subqueries, `LIMIT (SELECT 20) OFFSET (SELECT
    40)`, evaluated once per execution. A plan made with the values then costs the same as the
    generic one, and from its 11th run on a connection the statement runs PostgreSQL's generic
    plan. A price range, dates or `available` decide the best plan (walk the sort's index until
    the page is full, or collect the matches and sort them: it depends on how many match), so
    those listings are still planned with their values (`listing_json` tells PostgreSQL so)."""
    limit: Any = bindparam("page_limit", type_=Integer)
    offset: Any = bindparam("page_offset", type_=Integer)
    cap = match_cap(filters)
    if filters.q:
        return _search_page(filters, cap, limit, offset)
    once = planned_once(filters)
    if once:
        limit, offset = select(limit).scalar_subquery(), select(offset).scalar_subquery()
    listed = event_listing(filters, planned_once=once)
    total: Select[int] | None = None
    if skips_days(filters):
        # Today's rest, counted once (a WITH query) for the total and for skipping days.
        today_rest = (
            listed.with_only_columns(func.count().label("events"))
            .where(Event.starts_at < midnight_utc(TODAY + 1))
            .order_by(None)
            .cte("today_rest")
        )
        today_events = select(today_rest.c.events).scalar_subquery()
        total = day_counted_total(filters, cap, today_events)
        listed, offset = skip_days(listed, filters, offset, today_events)
    elif counted_by_day(filters):
        total = day_counted_total(filters, cap)
    page_ids = listed.with_only_columns(Event.id).limit(limit).offset(offset)
    if total is not None:
        return ListingPage(ids=page_ids, total=total)
    # min(matches, cap): a walk that stops at the cap instead of visiting every match. Browsing
    # counts from an index alone (every filter but `available` has one that covers it).
    matches = (
        listed.with_only_columns(literal_column("1")).order_by(None).limit(cap).subquery("matches")
    )
    total = select(cast(func.count(), Integer).label("total_items")).select_from(matches)
    return ListingPage(ids=page_ids, total=total)


def counted_by_day(filters: EventFilters) -> bool:
    """Every upcoming event, a category's or a city's, in any sort: what most visitors page
    through, and what `published_event_day` counts."""
    scope = EventFilters(category=filters.category, city=filters.city, sort=filters.sort)
    return filters == scope and not (filters.category and filters.city)


def day_counted_total(filters: EventFilters, cap: int, today_rest: Any = None) -> Select[int]:
    """How many events `event_listing(filters)` lists, up to `cap`, without visiting them:
    for every upcoming event, a category's or a city's (`counted_by_day`).

    The `published_event_day` table counts the published events starting on each day (UTC), in
    all, per category and per venue, kept exact by triggers in the same transaction as every
    change to `event` (migration 0007). The events that have not started are those of the days
    after today, summed from that table (a few hundred rows), plus today's that start from now
    on, counted from an index (a day's worth; `today_rest`: that count, when the statement
    has it already). Time passing needs no upkeep: as
    days go by, fewer of the table's rows are after today. Walking up to 10 000 index entries
    instead costs ~15 times as much, and these listings are most of what visitors ask for."""
    day = PublishedEventDay
    if today_rest is None:
        later_days = select(func.coalesce(func.sum(day.events), 0)).where(*later_days_of(filters))
        # An aggregate over today's matches (not a bare expression), so PostgreSQL computes it
        # once even though totalItems and totalPages both use it.
        total = func.least(func.count() + later_days.scalar_subquery(), cap)
        return (
            event_listing(filters, planned_once=True)
            .with_only_columns(cast(total, Integer).label("total_items"))
            .where(Event.starts_at < midnight_utc(TODAY + 1))
            .order_by(None)
        )
    summed = (
        select(func.coalesce(func.sum(day.events), 0).label("events"))
        .where(*later_days_of(filters))
        .subquery("later_days")
    )
    # Read FROM an aggregate, so PostgreSQL sums the days once, although totalItems and
    # totalPages both use the total (a scalar subquery would be copied into each).
    total = func.least(today_rest + summed.c.events, cap)
    return select(cast(total, Integer).label("total_items")).select_from(summed)


# Today's date in UTC: `published_event_day` counts the days after it.
TODAY = func.timezone("UTC", func.now()).cast(Date)


def midnight_utc(day: ColumnElement[date]) -> ColumnElement[datetime]:
    """The moment `day` starts (UTC), as a timestamptz to compare `Event.starts_at` with."""
    return func.timezone("UTC", day.cast(DateTime))


def later_days_of(filters: EventFilters) -> list[ColumnElement[bool]]:
    """The `published_event_day` rows of the days after today for the scope of `filters`
    (every event, a category or a city: `counted_by_day`); a city is its venues' rows."""
    values, day = filter_values(filters), PublishedEventDay
    conditions = [day.starts_on > TODAY]
    if values["category"] is not None:
        category_id = select(Category.id).where(Category.slug == bindparam("category"))
        conditions.append(day.category_id == category_id.scalar_subquery())
    else:
        conditions.append(day.category_id == 0)
    if values["city"] is not None:
        conditions.append(day.venue_id == func.any(city_venue_ids(bindparam("city"))))
    else:
        conditions.append(day.venue_id == 0)
    return conditions


# From this offset on, a page of every event sorted by start skips whole days (`skip_days`).
# Before it, walking the index to the page costs less than summing the days.
SKIP_DAYS_FROM_OFFSET = 200


def skips_days(filters: EventFilters) -> bool:
    """Every upcoming event, soonest or latest first: what `skip_days` serves."""
    return filters == EventFilters(sort=filters.sort) and SORTS[filters.sort][0] == "starts_at"


def skip_days(
    listed: Select[Event], filters: EventFilters, offset: Any, today_rest: Any
) -> tuple[Select[Event], Any]:
    """`listed` (every upcoming event, sorted by start either way) from the day that holds its
    row number `offset`, and the offset within what is left: a deep page reached from the day
    counts instead of walking every skipped event.

    OFFSET 3 000 walks the sort's index past 3 000 entries to throw them away (~0.1 ms,
    whatever the catalogue's size). `published_event_day` says how many events start on each
    day after today (exact in every transaction: triggers), so a running sum over the days in
    listing order (soonest first, after today's rest: `today_rest`) finds the day
    that holds the page's first event, stopping there. The walk then starts at that day's
    first event (soonest first: its midnight; latest first: the next midnight) with the offset
    less the events of the days skipped: at most a day's events are walked. One snapshot, so
    the page is the one the plain walk finds.

    Only from SKIP_DAYS_FROM_OFFSET on (a condition on the offset alone, a one-time filter:
    the days are not read for the first pages). Not for a category or a city: their pages are
    shallow (five pages of a category hold 100 events), and each part of a statement costs
    something to set up even when it does not run (~20 µs a page here)."""
    descending = SORTS[filters.sort][1]
    day = PublishedEventDay
    # (a subquery of its own: so the days are read in order from the table's key, and no
    # further than the day found below)
    per_day = select(day.starts_on, day.events).where(*later_days_of(filters)).subquery("per_day")
    days_in_order = per_day.c.starts_on.desc() if descending else per_day.c.starts_on.asc()
    # How many listed events come before each day's: the days before it (in listing order)
    # and, soonest first, today's rest.
    before = func.sum(per_day.c.events).over(order_by=days_in_order) - per_day.c.events
    if not descending:
        before = before + today_rest
    days = select(per_day.c.starts_on, before.label("before"), per_day.c.events).subquery("days")
    # The first day (in listing order) whose events reach past `offset`, if the offset is past
    # what comes before the first day (today's rest). No ORDER BY: the running sum's rows come
    # in its order, so the first that qualifies is that day, and the days after it are not read
    # (asked to sort them again, PostgreSQL read and sorted all of them).
    skipped = (
        select(days.c.starts_on, days.c.before)
        .where(
            offset >= SKIP_DAYS_FROM_OFFSET,
            days.c.before <= offset,
            days.c.before + days.c.events > offset,
        )
        .limit(1)
        .cte("skipped_days")
    )
    first_day = select(skipped.c.starts_on).scalar_subquery()
    if descending:
        no_skip: Any = literal_column("'infinity'")
        listed = listed.where(Event.starts_at < func.coalesce(midnight_utc(first_day + 1), no_skip))
    else:
        listed = listed.where(Event.starts_at >= func.coalesce(midnight_utc(first_day), func.now()))
    events_skipped = func.coalesce(select(skipped.c.before).scalar_subquery(), 0)
    return listed, offset - events_skipped


def _search_page(
    filters: EventFilters, cap: int, limit: BindParameter[int], offset: BindParameter[int]
) -> ListingPage:
    """A search's page and total, with one plan that suits rare and common words alike.

    How a search's page is best found depends on how many events match. Walking the sort's
    index, checking each upcoming event's words until the page is full, is quick for a common
    word and, for a word that matches nothing, checks every upcoming event (120 ms on 100 000
    events). Collecting the matches from the full-text index and sorting them is quick for a
    rare word and, for a common one, collects thousands of rows to keep 20. So:
    - the matches are collected from the full-text index, a fortnight at a time from the
      first listed one, stopping one past the cap; their number, up to the cap, is the total
      (counted once, in `found`). Reading by fortnight is what keeps a common word's count
      from growing with the catalogue: the index holds each word once per fortnight it occurs
      in, so the count reads its first fortnights' entries, not every event's that ever had
      the word;
    - all of them collected (at most the cap): sort those rows in memory and take the page;
    - more, soonest first: the periods before the last one read were read whole, so when
      their matches reach past the page (page 1, usually), sort those in memory;
    - otherwise: the words are common (over 1 % of 100 000 events), so walking the sort's index
      finds page 1's 20 matches within 20 × events / matches rows (under 2 000 on 100 000).
    Both branches are in the statement; PostgreSQL runs only the one whose condition holds (a
    "One-Time Filter" in the plan).

    The plan is the same for every search, on purpose: the branches above adapt to the words
    when the statement runs, so nothing is gained by planning for them. The words, the page's
    size and its offset reach the statement as scalar subqueries (`(SELECT to_tsquery(...))`,
    `LIMIT (SELECT ...)`, each evaluated once per execution), so the planner cannot see them:
    it does not guess how common the words are (it guessed badly for prefixes, and then chose
    reading the whole table), and a plan made for this search costs no less than one made
    for any search. So once psycopg prepares the statement (after 5 runs on a connection),
    PostgreSQL keeps one generic plan for it: no parsing or planning per search and no settings
    changed around it (PostgreSQL's CPU per search on 10 000 events: 1 630 → 380 µs). The
    walk checks the words with `ts_match_vq`, the function behind `@@`: written as a function
    it cannot be served by the full-text index, so PostgreSQL walks the sort's index there,
    as meant."""
    words = search_query(filters.q or "")
    values = filter_values(filters)
    listed = event_listing(replace(filters, q=None))  # published, upcoming, other filters, sort
    sort_column = getattr(Event, SORTS[filters.sort][0])
    if words is None:  # nothing searchable was typed: no match
        template = None
        checks_words: ColumnElement[bool] = false()
    else:
        tsquery = select(
            func.to_tsquery(literal_column("'shop_search'"), bindparam("tsquery", words))
        ).scalar_subquery()
        checks_words = func.ts_match_vq(Event.search_vector, tsquery)
        # Each prefix word as the few exact words it stands for ('nigh':* -> 'night'), which
        # the full-text index reads far faster: it collects every entry under a prefix into a
        # bitmap before combining the words (a two-word search on 100 000 events: 4.5 -> 0.7
        # ms; `event_search_exact_query`, migration 0011).
        exact = func.event_search_exact_query(tsquery)
        template = select(func.event_period_search_template(exact)).scalar_subquery()

    limit_value, offset_value = select(limit).scalar_subquery(), select(offset).scalar_subquery()

    # The matches are collected one period of 14 days at a time, from the period of the first
    # listed start (now, or `from`) to the period of the last published event: the full-text
    # index holds each word once per period it occurs in ("1484/jazz", migration 0009), so a
    # period's read is one small part of the index, and the LIMIT below stops the periods once
    # one match past the cap has been found. A common word then reads its first periods'
    # entries (~2 000 for "concert" on 100 000 events, where the catalogue-wide index made it
    # read 14 000), a rare one every upcoming period's (as many entries as it has upcoming
    # matches, in ~14 small reads), and past periods are never read: no job has to take past
    # events out of the index.
    def published_starts(bound: Any) -> Any:
        """The first or last start of a published event (one end of its index)."""
        return (
            select(bound(Event.starts_at))
            .where(Event.status == EventStatus.PUBLISHED)
            .correlate(None)
            .scalar_subquery()
        )

    # Not before the first published event: `from=0001-01-01` would otherwise read 52 000 empty
    # periods (70 ms of PostgreSQL CPU a request, for anyone to ask for). The periods read are
    # bounded by the catalogue's span, whatever the client sends.
    first_start = (
        func.now()
        if values["starts_from"] is None
        else func.greatest(
            bindparam("starts_from", values["starts_from"]), published_starts(func.min)
        )
    )
    last_start = published_starts(func.max)
    series = (
        func.generate_series(
            func.event_search_period(first_start), func.event_search_period(last_start)
        )
        .table_valued("period")
        .render_derived(name="series")
    )
    # Each period with the words tagged for it (migration 0009's functions). `OFFSET 0` keeps
    # a subquery a query of its own: PostgreSQL merges a plain subquery into the query around
    # it, but not one with a LIMIT or an OFFSET (a constant OFFSET 0 then costs nothing when
    # it runs). Here it keeps the words' InitPlan with the periods, where the planner counts
    # its cost once: merged into the period's read below, it was counted once per period the
    # planner imagines (1 000), and PostgreSQL, judging its one plan for every search dearer
    # than one made for these words, planned every search anew.
    one_word = template is not None and word_table_serves(filters)
    # A one-word search's prefix and the end of its range (`_one_word_or_full_text`), made here
    # with the tagged words for the same reason.
    prefix = (
        select(func.event_search_single_prefix(tsquery)).scalar_subquery() if one_word else null()
    )
    periods = (
        select(
            series.c.period,
            (
                func.event_period_search_query(series.c.period, template)
                if template is not None
                else null()
            ).label("words"),
            prefix.label("prefix"),
            (func.event_search_prefix_end(prefix) if one_word else null()).label("prefix_end"),
        )
        .offset(literal_column("0"))
        .subquery("periods")
    )
    in_period = Event.search_periods.op("@@")(periods.c.words) if template is not None else false()
    # A period's matches. Its own query too (`OFFSET 0`), so it can only run as the inner side
    # of a nested loop over the periods, once per period in the order generate_series gives
    # them, soonest first (merged into the query around it, PostgreSQL may pick another join
    # order, such as reading a small table once and checking every period's words per row).
    # That order is what lets a soonest-first page come from the periods read (below);
    # tests/test_catalog_indexes.py checks this plan on every PostgreSQL the CI runs.
    in_that_period: Any = (
        listed.with_only_columns(Event.id, sort_column, periods.c.period.label("period"))
        .where(in_period)
        .order_by(None)
        .offset(literal_column("0"))
    )
    if one_word:
        in_that_period = _one_word_or_full_text(in_that_period, periods, values)
    in_that_period = in_that_period.lateral("in_that_period")
    # Every match, planned as if all were read, so from the full-text index: with a LIMIT in
    # the same query, the planner would rather read the table until it has found enough (it
    # cannot know that a word in none of 100 000 events means reading all 100 000). A WITH
    # query is run only as far as it is read, so the LIMIT below still stops the periods one
    # match past the cap.
    all_matches = (
        select(in_that_period)
        .select_from(periods)
        .join(in_that_period, true())
        .cte("all_matches")
        .prefix_with("MATERIALIZED")
    )
    collected = select(all_matches).limit(cap + 1).cte("matches")
    found = select(cast(func.count(), Integer).label("matches")).select_from(collected).cte("found")
    all_collected = select(found.c.matches).scalar_subquery() <= cap
    # Past the cap, the soonest matches are still among those collected: the periods were read
    # in order, so every period before the last one read was read whole, and each of its
    # matches starts before any of a later period's. When those are enough for the page (page
    # 1 of a common word: most searches on a big catalogue), the page is theirs, sorted in
    # memory, instead of walking the start index and checking each upcoming event's words
    # (~900 events for a word in 1 of 45, a third of such a search's PostgreSQL time). Other
    # sorts, and pages beyond what the whole periods hold, still walk.
    if filters.sort == "starts_at":
        whole_periods_matches = (
            select(func.count())
            .select_from(collected)
            .where(collected.c.period < select(func.max(collected.c.period)).scalar_subquery())
            .scalar_subquery()
        )
        page_in_whole_periods = offset_value + limit_value <= whole_periods_matches
        # Decided once (a WITH query), though both branches below ask; the periods' matches
        # are counted only past the cap (PostgreSQL stops at the first true of an OR).
        decided = select(or_(all_collected, page_in_whole_periods).label("yes")).cte(
            "from_collected"
        )
        from_collected: ColumnElement[bool] = select(decided.c.yes).scalar_subquery()
    else:
        from_collected = all_collected
    sorted_in_memory = (
        select(collected.c.id)
        .where(from_collected)
        .order_by(*sort_keys(filters.sort, collected.c))
        .limit(limit_value)
        .offset(offset_value)
        .subquery("sorted_in_memory")
    )
    walked = (
        listed.with_only_columns(Event.id)
        .where(checks_words, ~from_collected)
        .limit(limit_value)
        .offset(offset_value)
        .subquery("walked")
    )
    page_ids = union_all(select(sorted_in_memory.c.id), select(walked.c.id))
    total = select(func.least(found.c.matches, cap).label("total_items")).select_from(found)
    return ListingPage(ids=page_ids, total=total)


def word_table_serves(filters: EventFilters) -> bool:
    """A search whose other filters are only dates, sorted by start: what `event_search_word`
    holds enough of to list (it has each match's start, not its price, title, category or
    venue)."""
    return filters.sort in ("starts_at", "-starts_at") and filters == EventFilters(
        q=filters.q,
        starts_from=filters.starts_from,
        starts_to=filters.starts_to,
        sort=filters.sort,
    )


def _one_word_or_full_text(
    full_text_read: Select[Any], periods: Any, values: dict[str, Any]
) -> Any:
    """One period's matches, read from `event_search_word` when the search is one word, from the
    full-text index otherwise (the same rows either way: id, start, period).

    Why: PostgreSQL reads a GIN index as a bitmap and then visits the table row of every match,
    even only to count it, and a search at the cap counts 1 001 of them (~1 µs each, most of a
    one-word search's cost on 100 000 events). `event_search_word` (migration 0011) holds each
    published event's words with its period and start in its primary key, so one period's
    entries for a word are one range of a btree, read from the index alone (~0.1 µs each): a
    prefix is the range from itself to `event_search_prefix_end` (words compare byte by byte,
    like a tsquery prefix). An event with two words of the prefix ("cop": copenhagen and
    copper) has two entries, so the period's rows are made distinct. Several words must all
    match, which the full-text index answers by intersecting its lists without visiting rows;
    for them the table would read every word's entries, so they keep the full-text read.

    Both reads are in the statement, each behind a condition on the period's `prefix`
    (`event_search_single_prefix`: NULL unless the query is one prefix word): PostgreSQL runs
    one, and the plan stays the same for every search."""
    word = EventSearchWord
    one_word_read = (
        select(
            word.event_id.label("id"),
            word.starts_at.label("starts_at"),
            periods.c.period.label("period"),
        )
        .where(
            periods.c.prefix.is_not(None),
            word.period == periods.c.period,
            word.word >= periods.c.prefix,
            word.word < periods.c.prefix_end,
        )
        .distinct()
        .offset(literal_column("0"))
    )
    if values["starts_from"] is None:
        one_word_read = one_word_read.where(word.starts_at >= func.now())
    else:
        one_word_read = one_word_read.where(word.starts_at >= bindparam("starts_from"))
    if values["starts_to"] is not None:
        one_word_read = one_word_read.where(word.starts_at <= bindparam("starts_to"))
    return union_all(full_text_read.where(periods.c.prefix.is_(None)), one_word_read)


def on_sale_expression(now: SQLColumnExpression[datetime] | None = None) -> ColumnElement[bool]:
    """tier_on_sale() in SQL, for the Event and TicketType of the surrounding query."""
    now = func.now() if now is None else now
    return and_(
        Event.status == EventStatus.PUBLISHED,
        Event.starts_at > now,
        or_(TicketType.sales_start.is_(None), TicketType.sales_start <= now),
        or_(TicketType.sales_end.is_(None), now < TicketType.sales_end),
    )


def seats_left_for_event(event_id: SQLColumnExpression[int]) -> ColumnElement[int]:
    """Correlated scalar: seats left over every tier of `event_id` (availability.py's rule)."""
    return (
        select(cast(func.coalesce(func.sum(available_expression()), 0), Integer))
        .where(TicketType.event_id == event_id)
        .scalar_subquery()
    )


def tier_on_sale(event: Any, tier: Any, now: datetime) -> bool:
    """Can this tier be bought right now (ignoring whether seats are left)? Takes models or
    rows: anything with the event's `status`/`starts_at` and the tier's sales window."""
    return (
        event.status == EventStatus.PUBLISHED
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
