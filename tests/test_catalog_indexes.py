"""Every filter and sort of the event listing can be served by an index.

With sequential scans and sorts disabled, the planner still picks a sequential scan on `event` (or a
sort of the events) only when no index can serve the query (or its order); so either one here is a
missing index. (The real
plans on 100 000 events are printed by bench/explain_catalog.py.)
"""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

from shop.extensions import db
from shop.models import Event
from shop.services.catalog import EventFilters, event_listing
from tests.factories import now

CASES = {
    "default": EventFilters(),
    "sort -startsAt": EventFilters(sort="-starts_at"),
    "sort price": EventFilters(sort="price"),
    "sort -price": EventFilters(sort="-price"),
    "sort title": EventFilters(sort="title"),
    "q": EventFilters(q="jazz copenhagen"),
    "category": EventFilters(category="jazz"),
    "city": EventFilters(city="Aarhus"),
    "from/to": EventFilters(
        starts_from=now() + timedelta(days=5), starts_to=now() + timedelta(days=9)
    ),
    "price range": EventFilters(min_price=Decimal("100"), max_price=Decimal("300"), sort="price"),
    "available": EventFilters(available=True),
}


# Search matches come from the GIN index and a city spans several venues: those rows are sorted
# after matching, which is cheap because matching already narrowed them down.
SORTED_AFTER_MATCHING = {"q", "city"}


def insert_concerts(connection, count: int, like: Event) -> None:
    """`count` published concerts, an hour apart from now on, at `like`'s venue and category."""
    connection.exec_driver_sql(
        "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status)"
        " SELECT 'Concert ' || md5(n::text), now() + n * interval '1 hour',"
        "  now() + n * interval '1 hour' + interval '2 hours', %(venue)s, %(category)s,"
        "  'published' FROM generate_series(1, %(count)s) AS n",
        {"venue": like.venue_id, "category": like.category_id, "count": count},
    )


def plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


@pytest.mark.parametrize("name", list(CASES))
def test_listing_query_is_served_by_an_index(app, make, name):
    for _ in range(3):
        make.ticket_type(make.event())
    statement = event_listing(CASES[name]).limit(20)
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    with app.app_context():
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        # On a handful of rows sorting is as cheap as an ordered index scan, and which one the
        # planner picks moves with the table's statistics (autovacuum may refresh them while
        # other tests commit). With sorts also penalised, a Sort remains only where no index can
        # give the order.
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
        explain = f"EXPLAIN (FORMAT JSON) {compiled}"
        plan = connection.exec_driver_sql(explain, compiled.params).scalar()
        db.session.rollback()
    nodes = list(plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
    scans = [(n["Node Type"], n.get("Relation Name")) for n in nodes if "Scan" in n["Node Type"]]
    assert ("Seq Scan", "event") not in scans, f"{name}: {scans}"
    assert ("Seq Scan", "ticket_type") not in scans, f"{name}: {scans}"
    if name not in SORTED_AFTER_MATCHING:
        # The index returns rows in the requested order: no sort of all matching events.
        event_sorts = [
            n
            for n in nodes
            if n["Node Type"] == "Sort"
            and any(child.get("Relation Name") == "event" for child in plan_nodes(n))
        ]
        assert not event_sorts, f"{name} sorts events: {scans}"


def test_a_rare_search_never_walks_the_upcoming_events_in_order(app, make):
    """A rare word must not make PostgreSQL walk every upcoming event in start order checking
    each one's words (120 ms on 100 000 events): its few matches are collected and sorted, and
    the branch that walks the sort's index is planned but never executed
    (shop.services.catalog._search_page; bench/explain_catalog.py shows the real plans)."""
    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services.catalog import filter_values, match_cap

    rare = make.event(title="Harpsichord recital")
    filters = EventFilters(q="harpsi")
    values = {**filter_values(filters), **page_values(1, 20, match_cap(filters))}
    with app.app_context():
        connection = db.session.connection()
        # A catalogue big enough for the planner to prefer walking an index, had it the choice.
        insert_concerts(connection, 5000, like=rare)
        connection.exec_driver_sql("ANALYZE event")
        sql = compile_once(listing_json_statement(filters), connection.dialect, values)
        explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"
        plan = connection.exec_driver_sql(explain, values).scalar()
        db.session.rollback()
    nodes = list(plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
    # A walk in start order is an Index Scan of the sort's index. (PostgreSQL 15 also reads that
    # index as a bitmap, in no order, to find upcoming events while collecting: not a walk.)
    walks = [
        n
        for n in nodes
        if n["Node Type"] == "Index Scan" and n.get("Index Name") == "ix_event_published_starts_at"
    ]
    assert walks and all(n["Actual Loops"] == 0 for n in walks), nodes  # planned, not run


@pytest.mark.parametrize("q", [None, "show"], ids=["browse", "search"])
def test_a_listing_counts_its_matches_once(app, make, monkeypatch, q):
    """totalItems and totalPages both use the count: PostgreSQL must still count only once (a
    scalar subquery inlined into both would walk up to 10 000 index entries twice)."""
    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services import catalog
    from shop.services.catalog import filter_values, match_cap

    monkeypatch.setattr(catalog, "MAX_LISTED_MATCHES", 3)
    monkeypatch.setattr(catalog, "MAX_SEARCH_MATCHES", 3)
    category = make.category(slug="shows")
    for n in range(5):
        make.event(title=f"Show {n}", category_id=category.id)
    # Filters the day counts do not serve, so the browse count walks its matches.
    filters = EventFilters(q=q, category="shows", city="Copenhagen")
    values = {**filter_values(filters), **page_values(1, 2, match_cap(filters))}
    with app.app_context():
        connection = db.session.connection()
        sql = compile_once(listing_json_statement(filters), connection.dialect, values)
        explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"
        plan = connection.exec_driver_sql(explain, values).scalar()
        db.session.rollback()
    nodes = list(plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
    # The count's walk stops at the cap (browse) or one past it (search).
    stop = 3 if q is None else 4
    counting = [
        n
        for n in nodes
        if n["Node Type"] == "Limit" and n["Actual Rows"] * n["Actual Loops"] == stop
    ]
    assert len(counting) == 1, [(n["Node Type"], n.get("Actual Rows")) for n in nodes]


@pytest.mark.parametrize(
    "filters",
    [EventFilters(sort="title"), EventFilters(category="jazz"), EventFilters(city="Aarhus")],
    ids=["all", "category", "city"],
)
def test_day_counted_listings_count_from_the_day_counts_not_the_events(app, make, filters):
    """Most visitors page through every upcoming event, a category or a city: their total is
    summed from `published_event_day` (a row per day) plus today's rest from an index, never a
    walk over up to 10 000 index entries (shop.services.catalog.day_counted_total)."""
    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services.catalog import filter_values, match_cap

    category, venue = make.category(slug="jazz"), make.venue(city="Aarhus")
    for days in (1, 2, 3):
        make.event(
            starts_at=now() + timedelta(days=days), category_id=category.id, venue_id=venue.id
        )
    values = {**filter_values(filters), **page_values(1, 20, match_cap(filters))}
    with app.app_context():
        connection = db.session.connection()
        sql = compile_once(listing_json_statement(filters), connection.dialect, values)
        plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", values).scalar()
        db.session.rollback()
    nodes = list(plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
    assert any(n.get("Relation Name") == "published_event_day" for n in nodes)
    # Only the page (20) is walked; nothing stops at the cap of 10 000.
    assert not [n for n in nodes if n["Node Type"] == "Limit" and n.get("Plan Rows") == 10_000]
    assert "LIMIT 10000" not in sql.replace("::INTEGER", "")


def test_a_category_in_a_city_is_counted_from_one_index(app, make):
    """A category in a city reads one range of `ix_event_published_category_venue` per venue
    of the city, instead of checking every event of the category for its venue."""
    from shop.services.catalog import match_cap

    category = make.category(slug="jazz-club")
    for city in ("Aarhus", "Odense"):
        venue = make.venue(city=city)
        for _ in range(3):
            make.event(category_id=category.id, venue_id=venue.id)
    filters = EventFilters(category="jazz-club", city="aarhus")
    counted = event_listing(filters).with_only_columns(Event.id).order_by(None)
    statement = select(func.count()).select_from(counted.limit(match_cap(filters)).subquery())
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    with app.app_context():
        connection = db.session.connection()
        # Only index-only scans left: a plan that must read event rows to know the category or
        # the venue (no index covers both) falls back on a disabled scan.
        for scan in ("seqscan", "bitmapscan", "indexscan"):
            connection.exec_driver_sql(f"SET LOCAL enable_{scan} = off")
        explain = f"EXPLAIN (FORMAT JSON) {compiled}"
        plan = connection.exec_driver_sql(explain, compiled.params).scalar()
        db.session.rollback()
    nodes = list(plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
    event_scans = [
        (n["Node Type"], n.get("Index Name")) for n in nodes if n.get("Relation Name") == "event"
    ]
    assert event_scans == [("Index Only Scan", "ix_event_published_category_venue")]


def prepared_generic_plan(connection, sql: str, values: dict) -> list[dict]:
    """EXPLAIN ANALYZE of `sql` (psycopg's `%(name)s` parameters) run as a prepared statement
    with PostgreSQL's generic plan, the one a pooled connection settles on. Its nodes."""
    import re

    from psycopg.sql import Literal

    names: list[str] = []

    def placeholder(match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    text = re.sub(r"%\((\w+)\)s", placeholder, sql).replace("%%", "%")
    driver = connection.connection.driver_connection
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    driver.execute("PREPARE generic_search AS " + text)
    arguments = ", ".join(Literal(values[name]).as_string(driver) for name in names)
    plan = driver.execute(
        f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE generic_search({arguments})"
    ).fetchone()[0]
    driver.execute("DEALLOCATE generic_search")
    return list(plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))


@pytest.mark.parametrize("word", ["harpsi", "concert"], ids=["rare", "common"])
def test_the_one_search_plan_suits_rare_and_common_words(app, make, word):
    """Every search runs one generic plan (the words are hidden from the planner). On it a rare
    word's few matches are collected fortnight by fortnight and sorted without walking the
    upcoming events, and a common word's page comes from walking the sort's index, after
    collecting no more than the cap (+1) of its 10 000 matches, from its first fortnights only,
    to count them
    (shop.services.catalog._search_page)."""
    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services.catalog import filter_values, match_cap

    rare = make.event(title="Harpsichord recital")
    filters = EventFilters(q=word)
    values = {**filter_values(filters), **page_values(1, 20, match_cap(filters))}
    with app.app_context():
        connection = db.session.connection()
        # 10 000 events: on fewer, reading the whole table is cheaper than any index (and the
        # planner rightly does that).
        insert_concerts(connection, 10000, like=rare)
        connection.exec_driver_sql("ANALYZE event")
        sql = compile_once(listing_json_statement(filters), connection.dialect, values)
        nodes = prepared_generic_plan(connection, sql, values)
        db.session.rollback()
    walks = [
        n
        for n in nodes
        if n["Node Type"] == "Index Scan" and n.get("Index Name") == "ix_event_published_starts_at"
    ]
    # Matches come from the full-text index by fortnight (a bitmap each), never from reading
    # the table, and the fortnights are read only as far as the count needs.
    periods = [n for n in nodes if n["Node Type"] == "Function Scan"]
    reads = [n for n in nodes if n["Node Type"] == "Bitmap Index Scan"]
    collected = [n["Actual Rows"] for n in nodes if n.get("Subplan Name") == "CTE matches"]
    assert len(walks) == 1, nodes  # the branch for common words is always a walk
    assert [n["Index Name"] for n in reads] == ["ix_event_published_search_periods"]
    assert len(periods) == 1 and reads[0]["Actual Loops"] == periods[0]["Actual Rows"]
    if word == "harpsi":
        assert walks[0]["Actual Loops"] == 0 and collected == [1]
        # 10 000 concerts an hour apart: every one of their 30 fortnights is read.
        assert reads[0]["Actual Loops"] >= 30
    else:
        assert walks[0]["Actual Rows"] == 20 and collected == [match_cap(filters) + 1]
        # 336 concerts a fortnight: the count has its 1 001 within the first 4 fortnights.
        assert reads[0]["Actual Loops"] <= 4
