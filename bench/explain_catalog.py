"""EXPLAIN ANALYZE every filter and sort of the event listing on a large seeded catalogue.

    python bench/explain_catalog.py [--events 100000] [--plans] [--mix REQUESTS] [--holds N]

Prints, per case, the scans used and the execution time of the page query and of its count (the
listing's own count statement: up to the cap, or from `published_event_day` for every event,
a category or a city), the shared buffers the count touched, and flags any sequential scan on `event` or
`ticket_type` (a missing index).

--plans: the whole listing statement as the app runs it (shop/catalog/json_bodies.py, prepared by
psycopg on a connection of its own, planned per run where listing_json says so), per case and page: which plans PostgreSQL settled on
(pg_prepared_statements: generic or custom, i.e. planned again every run) and the planning and
execution time of a run (EXPLAIN ANALYZE EXECUTE, median of 10), beside the generic plan forced.

--mix REQUESTS: the browse mix without searches (bench/mixes.py, the first REQUESTS URLs, after a
warm-up on the same URLs) through the app in this process on one pooled connection: PostgreSQL's CPU per request
(the backend's own run time, /proc/<pid>/schedstat), per kind of listing.

--holds N: a listing page (every event, page 1) during an on-sale rush: N carts each holding a
seat of one of the soonest events' tiers (inserted in a transaction that is rolled back), with
the statistics as they were and after ANALYZE; PostgreSQL's CPU per page, beside no holds.
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg.sql import Literal
from sqlalchemy.dialects import postgresql

from bench.common import bench_database
from shop.database import libpq_url
from shop.services.catalog import EventFilters, event_listing, listing_page, planned_once

NOW = datetime.now(UTC)
CASES = {
    "default (startsAt)": EventFilters(),
    "sort=-startsAt": EventFilters(sort="-starts_at"),
    "sort=price": EventFilters(sort="price"),
    "sort=-price": EventFilters(sort="-price"),
    "sort=title": EventFilters(sort="title"),
    "q=jazz copenhagen": EventFilters(q="jazz copenhagen"),
    "q=comedy": EventFilters(q="comedy"),
    "category=jazz": EventFilters(category="jazz"),
    "city=Aarhus": EventFilters(city="Aarhus"),
    "category=jazz&city=Aarhus": EventFilters(category="jazz", city="Aarhus"),
    "category=jazz&city=Aarhus, sort=-price": EventFilters(
        category="jazz", city="Aarhus", sort="-price"
    ),
    "from/to (5 days)": EventFilters(
        starts_from=NOW + timedelta(days=30), starts_to=NOW + timedelta(days=35)
    ),
    "minPrice..maxPrice, sort=price": EventFilters(
        min_price=Decimal(100), max_price=Decimal(300), sort="price"
    ),
    "available=true": EventFilters(available=True),
}


def walk(node):
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def explain(conn, statement, runs: int = 5) -> tuple[float, list[str], int]:
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    times, scans, buffers = [], [], 0
    for _ in range(runs):
        plan = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(compiled), compiled.params
        ).fetchone()[0][0]
        times.append(plan["Execution Time"])
        scans = [
            f"{n['Node Type']}({n.get('Index Name') or n.get('Relation Name')})"
            for n in walk(plan["Plan"])
            if "Scan" in n["Node Type"]
        ]
        buffers = plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get(
            "Shared Read Blocks", 0
        )
    return statistics.median(times), scans, buffers


PLAN_CASES = {
    "every event, page 1": (EventFilters(), 1),
    "every event, page 100": (EventFilters(), 100),
    "every event, page 200": (EventFilters(), 200),
    "sort=-price, page 100": (EventFilters(sort="-price"), 100),
    "sort=title, page 100": (EventFilters(sort="title"), 100),
    "category=jazz, page 3": (EventFilters(category="jazz"), 3),
    "category=concerts sort=-price, page 5": (EventFilters(category="concerts", sort="-price"), 5),
    "city=Aarhus, page 3": (EventFilters(city="aarhus"), 3),
    "city=Odense sort=-price, page 2": (EventFilters(city="odense", sort="-price"), 2),
    "category=jazz&city=Aarhus, page 2": (EventFilters(category="jazz", city="aarhus"), 2),
    "minPrice..maxPrice, page 3": (EventFilters(min_price=Decimal(100), max_price=Decimal(300)), 3),
    "minPrice..maxPrice narrow, sort=title": (
        EventFilters(min_price=Decimal(390), max_price=Decimal(399), sort="title"),
        1,
    ),
    "category=no-such, sort=-price": (EventFilters(category="no-such", sort="-price"), 1),
}


def prepared_runs(
    dsn: str, filters: EventFilters, page: int, mode: str
) -> tuple[str, float, float]:
    """Run the listing's statement as the app does (prepared after 5 runs) 16 times, then
    EXPLAIN ANALYZE EXECUTE it 10 times: (plans PostgreSQL settled on, planning ms, run ms)."""
    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services.catalog import filter_values, match_cap

    values = {**filter_values(filters), **page_values(page, 20, match_cap(filters))}
    sql = compile_once(listing_json_statement(filters), postgresql.psycopg.dialect(), values)
    if mode == "auto" and not (filters.q or planned_once(filters)):
        mode = "force_custom_plan"  # as listing_json runs it
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET plan_cache_mode = {mode}")
        for _ in range(16):  # prepared from the 6th run: then 5 planned with values, 6 more
            conn.execute(sql, values)
        name, generic = conn.execute(
            "SELECT name, generic_plans FROM pg_prepared_statements"
        ).fetchone()
        names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
        arguments = ", ".join(Literal(values[n]).as_string(conn) for n in names)
        planning, execution = [], []
        for _ in range(10):
            plan = conn.execute(
                f"EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) EXECUTE {name}({arguments})"
            ).fetchone()[0][0]
            planning.append(plan["Planning Time"])
            execution.append(plan["Execution Time"])
    # PostgreSQL plans a prepared statement with its values 5 times, then compares.
    settled = "generic" if generic else "custom"
    return settled, statistics.median(planning), statistics.median(execution)


def print_plans(url: str, events: int) -> None:
    dsn = libpq_url(url)
    print(
        f"{'case':<40} {'settled on':>10} {'plan ms':>8} {'run ms':>7}   forced generic: plan, run"
    )
    for name, (filters, page) in PLAN_CASES.items():
        settled, planning, execution = prepared_runs(dsn, filters, page, "auto")
        _, generic_planning, generic_execution = prepared_runs(
            dsn, filters, page, "force_generic_plan"
        )
        print(
            f"{name:<40} {settled:>10} {planning:>8.3f} {execution:>7.3f}"
            f"   {generic_planning:.3f}, {generic_execution:.3f}"
        )
    print(
        f"\n{len(PLAN_CASES)} cases on {events} events; 'custom' means PostgreSQL plans the"
        " statement again on every run (the plan ms above), 'generic' that it reuses one plan."
    )


def print_mix(url: str, requests: int) -> None:
    from urllib.parse import parse_qs, urlsplit

    from bench.mixes import browse_paths

    quiet = {"RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"}  # as the benches serve
    from shop import create_app
    from shop.extensions import db

    app = create_app("development", {"DATABASE_URL": url, **quiet})
    client = app.test_client()
    paths = [path for path in browse_paths() if "q=" not in path]
    with app.app_context(), db.engine.connect() as connection:
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()

    def cpu_ns() -> int:
        with open(f"/proc/{backend}/schedstat") as stat:
            return int(stat.read().split()[0])

    # Warm up on every URL measured: each kind of statement is then prepared and past
    # PostgreSQL's five trial plans on this connection, as on a server that has been up a while
    # (a kind seen a dozen times in the measured URLs would otherwise be measured mostly
    # while it is still being planned).
    for path in paths[:requests]:
        client.get(path)
    spent: dict[str, list[int]] = collections.defaultdict(list)
    for path in paths[:requests]:
        kind = ",".join(sorted(k for k in parse_qs(urlsplit(path).query) if k != "page")) or "-"
        before = cpu_ns()
        assert client.get(path).status_code == 200, path
        spent[kind].append(cpu_ns() - before)
    total = sum(sum(ns) for ns in spent.values())
    print(f"{'arguments besides page':<28} {'requests':>8} {'µs mean':>8} {'share':>6}")
    for kind, ns in sorted(spent.items(), key=lambda item: -sum(item[1])):
        print(f"{kind:<28} {len(ns):>8} {statistics.mean(ns) / 1000:>8.0f} {sum(ns) / total:>6.0%}")
    print(
        f"\nPostgreSQL CPU per request over {requests} browse URLs without q:"
        f" {total / requests / 1000:.0f} µs (one backend, this process's requests only)."
    )


def print_rush(url: str, holds: int) -> None:
    from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
    from shop.services.catalog import filter_values, match_cap

    filters = EventFilters()
    values = {**filter_values(filters), **page_values(1, 20, match_cap(filters))}
    sql = compile_once(listing_json_statement(filters), postgresql.psycopg.dialect(), values)
    with psycopg.connect(libpq_url(url)) as conn:
        backend = conn.info.backend_pid

        def page_cpu_us(runs: int = 100) -> float:
            for _ in range(12):  # prepared, and past PostgreSQL's 5 custom plans
                conn.execute(sql, values)
            with open(f"/proc/{backend}/schedstat") as stat:
                before = int(stat.read().split()[0])
            for _ in range(runs):
                conn.execute(sql, values)
            with open(f"/proc/{backend}/schedstat") as stat:
                return (int(stat.read().split()[0]) - before) / runs / 1000

        print(f"no live holds: {page_cpu_us():.0f} µs of PostgreSQL CPU a page")
        conn.execute(
            "WITH carts AS (INSERT INTO cart (guest_token_hash, status, hold_expires_at)"
            "  SELECT decode(md5(random()::text || n), 'hex'), 'active',"
            "   now() + interval '10 minutes' FROM generate_series(1, %(holds)s) n"
            "  RETURNING id),"
            " tiers AS (SELECT t.id, t.event_id, t.price, row_number() OVER () AS n"
            "  FROM ticket_type t JOIN event e ON e.id = t.event_id"
            "  WHERE e.status = 'published' AND e.starts_at > now()"
            "  ORDER BY e.starts_at LIMIT 200)"
            " INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)"
            " SELECT carts.id, tiers.event_id, tiers.id, 1, tiers.price FROM carts"
            " JOIN tiers ON tiers.n = 1 + carts.id %% 200",
            {"holds": holds},
        )
        print(f"{holds} live holds: {page_cpu_us():.0f} µs a page")
        conn.execute("ANALYZE cart")
        conn.execute("ANALYZE cart_item")
        print(f"{holds} live holds, after ANALYZE: {page_cpu_us():.0f} µs a page")
        conn.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--plans", action="store_true", help="planning and running, per case")
    parser.add_argument("--mix", type=int, metavar="REQUESTS", help="CPU per browse request")
    parser.add_argument("--holds", type=int, metavar="N", help="a listing page during a rush")
    args = parser.parse_args()
    url = bench_database(args.events)
    if args.plans:
        print_plans(url, args.events)
        return
    if args.mix:
        print_mix(url, args.mix)
        return
    if args.holds:
        print_rush(url, args.holds)
        return
    missing = 0
    print(
        f"{'case':<42} {'page ms':>8} {'count ms':>9} {'count':>6} {'bufs':>5}  scans (page query)"
    )
    with psycopg.connect(libpq_url(url)) as conn:
        for name, filters in CASES.items():
            statement = event_listing(filters, planned_once=planned_once(filters))
            page_ms, scans, _ = explain(conn, statement.limit(20))
            if filters.q:  # as the app runs a search (shop/catalog/json_bodies.py)
                conn.execute("SET enable_seqscan = off")
            count_ms, count_scans, count_buffers = explain(conn, listing_page(filters).total)
            conn.execute("RESET enable_seqscan")
            flagged = [
                s
                for s in scans
                if s.startswith("Seq Scan(event") or s.startswith("Seq Scan(ticket_type")
            ]
            missing += bool(flagged)
            count_plan = (
                "days"
                if any("published_event_day" in s for s in count_scans)
                else "seq"
                if any(s.startswith("Seq Scan(event") for s in count_scans)
                else "index"
            )
            print(
                f"{name:<42} {page_ms:>8.2f} {count_ms:>9.2f} {count_plan:>6} {count_buffers:>5}  "
                f"{' '.join(dict.fromkeys(scans))}" + ("  <-- SEQ SCAN" if flagged else "")
            )
    print(
        f"\n{len(CASES)} cases on {args.events} events, median of 5 EXPLAIN ANALYZE runs;"
        f" {missing} page queries with a sequential scan on event/ticket_type.\n"
        "Counts stop at the cap (10 000 matches browsing, 1 000 for a search); every event, a"
        " category and a city sum published_event_day ('days') plus today's rest."
    )


if __name__ == "__main__":
    main()
