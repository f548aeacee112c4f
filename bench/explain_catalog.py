"""EXPLAIN ANALYZE every filter and sort of the event listing on a large seeded catalogue.

    python bench/explain_catalog.py [--events 100000]

Prints, per case, the scans used and the execution time of the page query and of its count (the
listing's own count statement: up to the cap, or from `published_event_day` for every event,
a category or a city), the shared buffers the count touched, and flags any sequential scan on `event` or
`ticket_type` (a missing index).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy.dialects import postgresql

from bench.common import bench_database
from shop.database import libpq_url
from shop.services.catalog import EventFilters, event_listing, listing_page

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    url = bench_database(args.events)
    missing = 0
    print(
        f"{'case':<42} {'page ms':>8} {'count ms':>9} {'count':>6} {'bufs':>5}  scans (page query)"
    )
    with psycopg.connect(libpq_url(url)) as conn:
        for name, filters in CASES.items():
            statement = event_listing(filters)
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
