"""EXPLAIN ANALYZE every filter and sort of the event listing on a large seeded catalogue.

    python bench/explain_catalog.py [--events 100000]

Prints, per case, the scans used and the execution time of the page query and of its count (up
to the listing's cap, as the API counts), and flags any sequential scan on `event` or
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
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

from bench.common import bench_database
from shop.database import libpq_url
from shop.models import Event
from shop.services.catalog import EventFilters, event_listing, match_cap

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


def explain(conn, statement, runs: int = 5) -> tuple[float, list[str]]:
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    times, scans = [], []
    for _ in range(runs):
        plan = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), compiled.params
        ).fetchone()[0][0]
        times.append(plan["Execution Time"])
        scans = [
            f"{n['Node Type']}({n.get('Index Name') or n.get('Relation Name')})"
            for n in walk(plan["Plan"])
            if "Scan" in n["Node Type"]
        ]
    return statistics.median(times), scans


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    url = bench_database(args.events)
    missing = 0
    print(f"{'case':<34} {'page ms':>8} {'count ms':>9} {'count':>6}  scans (page query)")
    with psycopg.connect(libpq_url(url)) as conn:
        for name, filters in CASES.items():
            statement = event_listing(filters)
            page_ms, scans = explain(conn, statement.limit(20))
            capped = statement.with_only_columns(Event.id).order_by(None).limit(match_cap(filters))
            count_ms, count_scans = explain(
                conn, select(func.count()).select_from(capped.subquery())
            )
            flagged = [
                s
                for s in scans
                if s.startswith("Seq Scan(event") or s.startswith("Seq Scan(ticket_type")
            ]
            missing += bool(flagged)
            count_plan = (
                "seq" if any(s.startswith("Seq Scan(event") for s in count_scans) else "index"
            )
            print(
                f"{name:<34} {page_ms:>8.2f} {count_ms:>9.2f} {count_plan:>6}  "
                f"{' '.join(dict.fromkeys(scans))}" + ("  <-- SEQ SCAN" if flagged else "")
            )
    print(
        f"\n{len(CASES)} cases on {args.events} events, median of 5 EXPLAIN ANALYZE runs;"
        f" {missing} page queries with a sequential scan on event/ticket_type.\n"
        "Counts stop at the cap (10 000 matches browsing, 1 000 for a search)."
    )


if __name__ == "__main__":
    main()
