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
from shop.models import Event, Venue
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
    elsewhere = make.event()  # another category at another venue
    filters = EventFilters(category="jazz-club", city="aarhus")
    counted = event_listing(filters, planned_once=True).with_only_columns(Event.id).order_by(None)
    statement = select(func.count()).select_from(counted.limit(match_cap(filters)).subquery())
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    with app.app_context():
        connection = db.session.connection()
        # Enough other events for the indexes' costs to differ (on six rows every plan ties).
        insert_concerts(connection, 2000, like=elsewhere)
        connection.exec_driver_sql("ANALYZE event")
        # On a few thousand rows reading the table is as good as any index: indexes only.
        for scan in ("seqscan", "bitmapscan"):
            connection.exec_driver_sql(f"SET LOCAL enable_{scan} = off")
        explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}"
        plan = connection.exec_driver_sql(explain, compiled.params).scalar()
        db.session.rollback()
    nodes = list(plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
    event_scans = [n for n in nodes if n.get("Relation Name") == "event"]
    # Only the category's events at the city's venues are read: the venues are part of the
    # index condition, not a filter applied to each of the category's events.
    assert [n.get("Index Name") for n in event_scans] == ["ix_event_published_category_venue"]
    assert "venue_id" in event_scans[0]["Index Cond"]
    assert sum(n["Actual Rows"] * n["Actual Loops"] for n in event_scans) == 3


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


@pytest.mark.parametrize(
    ("words", "sort"),
    [
        ("harpsi", "starts_at"),
        ("concert", "starts_at"),
        ("concert", "-starts_at"),
        ("harpsi recital", "starts_at"),
        ("concert {city}", "starts_at"),
        ("concert {city}", "-starts_at"),
    ],
    ids=[
        "rare",
        "common",
        "common latest first",
        "two rare words",
        "two common words",
        "two common words latest first",
    ],
)
def test_the_one_search_plan_suits_rare_and_common_words(app, make, words, sort):
    """Every search runs one generic plan (the words are hidden from the planner). On it a rare
    word's few matches are collected fortnight by fortnight and sorted without walking the
    upcoming events. A common word's matches are collected up to the cap (+1) of its 10 000,
    from its first fortnights only, to count them; its soonest-first page comes from the
    fortnights collected whole, and any other order's from walking the sort's index
    (shop.services.catalog._search_page). One word is read from `event_search_word`'s index
    alone, several from the full-text index (migration 0011)."""
    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services.catalog import filter_values, match_cap

    rare = make.event(title="Harpsichord recital")
    with app.app_context():
        city = db.session.get(Venue, rare.venue_id).city.split()[0]
    filters = EventFilters(q=words.format(city=city), sort=sort)
    values = {**filter_values(filters), **page_values(1, 20, match_cap(filters))}
    with app.app_context():
        connection = db.session.connection()
        # 10 000 events: on fewer, reading the whole table is cheaper than any index (and the
        # planner rightly does that).
        insert_concerts(connection, 10000, like=rare)
        connection.exec_driver_sql("ANALYZE event")
        connection.exec_driver_sql("ANALYZE event_search_word")
        sql = compile_once(listing_json_statement(filters), connection.dialect, values)
        nodes = prepared_generic_plan(connection, sql, values)
        db.session.rollback()
    walks = [
        n
        for n in nodes
        if n["Node Type"] == "Index Scan" and n.get("Index Name") == "ix_event_published_starts_at"
    ]
    # Matches come by fortnight from an index (the full-text one: a bitmap each; or the words'
    # table's primary key, read alone), never from reading the table, and the fortnights are
    # read only as far as the count needs.
    periods = [n for n in nodes if n["Node Type"] == "Function Scan"]
    # (the event's indexes: the seats left read the live holds' own index too)
    full_text_reads = [
        n
        for n in nodes
        if n["Node Type"] == "Bitmap Index Scan" and n["Index Name"].startswith("ix_event_")
    ]
    word_reads = [n for n in nodes if n.get("Index Name") == "pk_event_search_word"]
    collected = [n["Actual Rows"] for n in nodes if n.get("Subplan Name") == "CTE matches"]
    assert len(walks) == 1, nodes  # the branch for common words is always a walk
    assert [n["Index Name"] for n in full_text_reads] == ["ix_event_published_search_periods"]
    assert [n["Node Type"] for n in word_reads] == ["Index Only Scan"]
    one_word = len(filters.q.split()) == 1
    [reads], [unused] = (word_reads, full_text_reads) if one_word else (full_text_reads, word_reads)
    assert unused["Actual Loops"] == 0
    assert len(periods) == 1 and reads["Actual Loops"] == periods[0]["Actual Rows"]
    if words.startswith("harpsi"):
        assert walks[0]["Actual Loops"] == 0 and collected == [1]
        # 10 000 concerts an hour apart: every one of their 30 fortnights is read.
        assert reads["Actual Loops"] >= 30
    else:
        assert collected == [match_cap(filters) + 1]
        # 336 concerts a fortnight: the count has its 1 001 within the first 4 fortnights.
        assert reads["Actual Loops"] <= 4
        # The soonest 20 are among the fortnights read whole: no walk. Latest first: walked.
        assert walks[0]["Actual Rows"] == (20 if sort == "-starts_at" else 0)


PLANNED_ONCE = {
    "every event": EventFilters(),
    "every event by title": EventFilters(sort="title"),
    "category": EventFilters(category="jazz"),
    "city": EventFilters(city="Aarhus"),
    "category in a city, -price": EventFilters(category="jazz", city="aarhus", sort="-price"),
}


@pytest.mark.parametrize("name", list(PLANNED_ONCE))
def test_browsing_every_event_a_category_or_a_city_is_planned_once(app, make, name):
    """Planning the listing cost more than running it (~0.45 ms a request). Browsing every
    event, a category or a city, on any page, reaches PostgreSQL as one statement whose values
    are unseen by the planner, so once psycopg has prepared it (from its sixth run on a
    connection) and PostgreSQL has planned it with values five times, PostgreSQL runs its
    generic plan and plans no more (shop.services.catalog.listing_page)."""
    from shop.catalog.json_bodies import listing_json

    category, venue = make.category(slug="jazz"), make.venue(city="Aarhus")
    make.event(category_id=category.id, venue_id=venue.id)
    with app.app_context():
        connection = db.session.connection()
        insert_concerts(connection, 5000, like=make.event())
        connection.exec_driver_sql("ANALYZE event")
        connection.exec_driver_sql("DEALLOCATE ALL")
        for page in (1, 7, 2, 15, 1, 3, 9, 4, 11, 5, 6, 1, 8, 2, 10):
            listing_json(connection, PLANNED_ONCE[name], page, 20)
        prepared = connection.exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%%json_build_object%%'"
        ).all()
        db.session.rollback()
    # 15 runs: 5 before psycopg prepares it, 5 planned with their values (PostgreSQL's rule for
    # a prepared statement), then the generic plan for the rest.
    assert [tuple(row) for row in prepared] == [(5, 5)]


SORT_INDEXES = {
    "starts_at": "ix_event_published_starts_at",
    "-starts_at": "ix_event_published_starts_at",
    "price": "ix_event_published_price_from",
    "-price": "ix_event_published_price_from_desc",
    "title": "ix_event_published_title",
}


@pytest.mark.parametrize("sort", list(SORT_INDEXES))
def test_a_citys_page_is_walked_from_the_sort_index_alone(app, make, sort):
    """The plan made once must suit every city: the page is found by walking the sort's index,
    which carries each event's venue (migration 0008), until the page is full; never by reading
    the event rows or collecting and sorting all of the city's events."""
    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services.catalog import filter_values, match_cap

    aarhus, elsewhere = make.event(venue_id=make.venue(city="Aarhus").id), make.event()
    filters = EventFilters(city="aarhus", sort=sort)
    values = {**filter_values(filters), **page_values(2, 20, match_cap(filters))}
    with app.app_context():
        connection = db.session.connection()
        insert_concerts(connection, 2500, like=elsewhere)
        connection.exec_driver_sql(  # a fifth of them in Aarhus, spread evenly in every order
            "UPDATE event SET venue_id = %(venue)s WHERE id %% 5 = 0 AND title LIKE 'Concert %%'",
            {"venue": aarhus.venue_id},
        )
        connection.exec_driver_sql("ANALYZE event")
        sql = compile_once(listing_json_statement(filters), connection.dialect, values)
        nodes = prepared_generic_plan(connection, sql, values)
        db.session.rollback()
    # Page 2: the walk stops at the 40th event of the city (a fifth of the events: ~200 read).
    walks = [n for n in nodes if n.get("Index Name") == SORT_INDEXES[sort]]
    page_walk = [n for n in walks if n["Actual Rows"] == 40]
    assert [n["Node Type"] for n in page_walk] == ["Index Only Scan"], walks
    assert "venue_id" in page_walk[0]["Filter"] and page_walk[0]["Rows Removed by Filter"] < 400
    event_sorts = [
        n
        for n in nodes
        if n["Node Type"] == "Sort" and any(c.get("Actual Rows", 0) > 40 for c in plan_nodes(n))
    ]
    assert not event_sorts, nodes


@pytest.mark.parametrize(
    "filters",
    [EventFilters(category="no-such-category", sort="-price"), EventFilters(city="Atlantis")],
    ids=["category", "city"],
)
def test_an_unknown_category_or_city_reads_no_event(app, make, filters):
    """A plan made once cannot know that a category or a city does not exist: without a check,
    it walks every upcoming event to find none of them (4 ms on 100 000 events). The listing
    checks the category's and the city's ids before reading any event (a One-Time Filter)."""
    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services.catalog import filter_values, match_cap

    values = {**filter_values(filters), **page_values(1, 20, match_cap(filters))}
    with app.app_context():
        connection = db.session.connection()
        insert_concerts(connection, 1000, like=make.event())
        connection.exec_driver_sql("ANALYZE event")
        sql = compile_once(listing_json_statement(filters), connection.dialect, values)
        nodes = prepared_generic_plan(connection, sql, values)
        db.session.rollback()
    event_reads = [n for n in nodes if n.get("Relation Name") == "event"]
    read = sum(
        (n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"]
        for n in event_reads
    )
    assert event_reads and read == 0, event_reads


@pytest.mark.parametrize("sort", ["starts_at", "title"])
def test_a_price_range_is_planned_with_its_values_every_time(app, make, sort):
    """How many events a price range matches decides the plan (walk the sort's index, or
    collect the range and sort it), so its listing is planned with its values on every run,
    never by the generic plan PostgreSQL would otherwise settle on after five (which guesses a
    range matches 0.5 % of the events: 9-20 ms instead of 2 ms on 100 000 events when it
    matches 70 %). shop.catalog.json_bodies.listing_json."""
    from decimal import Decimal

    from shop.catalog.json_bodies import listing_json

    event = make.event()
    make.ticket_type(event, price=Decimal("150.00"))
    filters = EventFilters(min_price=Decimal(100), max_price=Decimal(300), sort=sort)
    with app.app_context():
        connection = db.session.connection()
        insert_concerts(connection, 5000, like=event)
        connection.exec_driver_sql(
            "INSERT INTO ticket_type (event_id, currency, name, price, capacity)"
            " SELECT id, currency, 'Standard', 100 + id %% 300, 100 FROM event"
            " WHERE title LIKE 'Concert %%'"
        )
        connection.exec_driver_sql("ANALYZE event")
        connection.exec_driver_sql("DEALLOCATE ALL")
        for page in (1, 7, 2, 15, 1, 3, 9, 4, 11, 5, 6, 1, 8, 2, 10):
            listing_json(connection, filters, page, 20)
        prepared = connection.exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%%json_build_object%%'"
        ).all()
        setting = connection.exec_driver_sql("SHOW plan_cache_mode").scalar()
        db.session.rollback()
    assert [tuple(row) for row in prepared] == [(0, 10)]
    assert setting == "auto"  # the connection goes back to the pool as it came


def test_a_search_from_long_ago_reads_only_the_fortnights_of_the_catalogue(app, client, make):
    """A search reads the full-text index a fortnight at a time from `from`; a client sending
    `from=0001-01-01` must not make it read 52 000 empty fortnights (70 ms of PostgreSQL a
    request): it starts at the first published event's (shop.services.catalog._search_page)."""
    from datetime import UTC, datetime

    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services.catalog import filter_values, match_cap

    past = make.event(title="Harbour walk", starts_at=now() - timedelta(days=30))
    upcoming = make.event(title="Harbour walk", starts_at=now() + timedelta(days=10))
    found = client.get("/api/events?q=harbour&from=0001-01-01").get_json()["data"]
    assert [event["id"] for event in found] == [past.id, upcoming.id]
    filters = EventFilters(q="harbour", starts_from=datetime(1, 1, 1, tzinfo=UTC))
    values = {**filter_values(filters), **page_values(1, 20, match_cap(filters))}
    with app.app_context():
        connection = db.session.connection()
        sql = compile_once(listing_json_statement(filters), connection.dialect, values)
        nodes = prepared_generic_plan(connection, sql, values)
        db.session.rollback()
    [periods] = [n for n in nodes if n["Node Type"] == "Function Scan"]
    assert periods["Actual Rows"] <= 4  # 30 days back to 10 ahead: 3 or 4 fortnights
