"""The search mix (bench/mixes.py) as PostgreSQL runs it, weighted as the bench sends it.

    python bench/explain_search.py [--events 100000] [--searches 1000]

Takes the first --searches URLs of the search mix (a word that recurs in the mix recurs here as
often) and, on the seeded bench database:
- runs each search's listing statement as the app does (psycopg prepares it after 5 runs and
  PostgreSQL keeps one generic plan), and prints PostgreSQL's CPU per search (its backend's
  CPU time over the whole mix) and the wall time per search;
- EXPLAIN (ANALYZE, BUFFERS) EXECUTE of that generic plan for each search, grouped by how many
  events match (none, under a page, under the cap, at the cap): execution time and buffers per
  search and each group's share of the mix's execution time, the same per number of words
  typed (one word reads `event_search_word`, several the full-text index), then the slowest
  searches.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
import psycopg
from psycopg.sql import Literal
from sqlalchemy.dialects import postgresql

from bench.common import bench_database
from bench.mixes import search_paths
from shop.catalog.json_bodies import compile_once, listing_json_statement, page_values
from shop.database import libpq_url
from shop.services.catalog import MAX_SEARCH_MATCHES, EventFilters, filter_values, match_cap

GROUPS = ("no match", "under a page", "under the cap", "at the cap")


def group_of(total: int, page_size: int) -> str:
    if total == 0:
        return GROUPS[0]
    if total < page_size:
        return GROUPS[1]
    return GROUPS[2] if total < MAX_SEARCH_MATCHES else GROUPS[3]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=1_000)
    args = parser.parse_args()
    url = libpq_url(bench_database(args.events))
    terms = [parse_qs(urlparse(path).query)["q"][0] for path in search_paths()[: args.searches]]
    example = EventFilters(q=terms[0])
    names = {**filter_values(example), **page_values(1, 20, match_cap(example))}
    sql = compile_once(listing_json_statement(example), postgresql.psycopg.dialect(), names)
    values = [
        {**filter_values(EventFilters(q=term)), **page_values(1, 20, MAX_SEARCH_MATCHES)}
        for term in terms
    ]

    with psycopg.connect(url, autocommit=True) as conn:
        backend = psutil.Process(conn.info.backend_pid)
        for params in values[:20]:  # prepared and planned, as on a busy pooled connection
            conn.execute(sql, params)
        cpu_before, started = sum(backend.cpu_times()[:2]), time.perf_counter()
        for params in values:
            conn.execute(sql, params).fetchone()
        cpu = (sum(backend.cpu_times()[:2]) - cpu_before) / len(values) * 1e6
        wall = (time.perf_counter() - started) / len(values) * 1e3
    print(f"{args.events} events, {len(values)} searches of the mix, page 1")
    print(f"  PostgreSQL CPU per search: {cpu:.0f} us; wall time per search: {wall:.2f} ms")

    # The same statement under PREPARE, so EXPLAIN shows the generic plan the app runs.
    order: list[str] = []

    def placeholder(match: re.Match) -> str:
        if match.group(1) not in order:
            order.append(match.group(1))
        return f"${order.index(match.group(1)) + 1}"

    prepared = re.sub(r"%\((\w+)\)s", placeholder, sql).replace("%%", "%")
    rows = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute("PREPARE search AS " + prepared)
        for term, params in zip(terms, values, strict=True):
            arguments = ", ".join(Literal(params[name]).as_string(conn) for name in order)
            plan = conn.execute(
                f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE search({arguments})"
            ).fetchone()[0][0]
            total = conn.execute(f"EXECUTE search({arguments})").fetchone()[0]
            matches = int(re.search(r'"totalItems" : (\d+)', total).group(1))
            top = plan["Plan"]
            buffers = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
            rows.append((term, plan["Execution Time"], buffers, matches))
    executed = sum(row[1] for row in rows)
    for group in GROUPS:
        members = [row for row in rows if group_of(row[3], 20) == group]
        if members:
            print(
                f"  {group:<14} {len(members):>4} searches: execution"
                f" {statistics.mean(row[1] for row in members):.2f} ms,"
                f" {statistics.mean(row[2] for row in members):.0f} buffers per search,"
                f" {sum(row[1] for row in members) / executed:.0%} of the mix's execution time"
            )
    # The same per number of words typed: one word reads `event_search_word` (migration 0011),
    # several the full-text index, so their costs grow differently with the catalogue.
    for count, kind in ((1, "one word"), (2, "two words")):
        of_kind = [row for row in rows if len(row[0].split()) == count]
        for group in GROUPS:
            members = [row for row in of_kind if group_of(row[3], 20) == group]
            if members:
                print(
                    f"  {kind:<9} {group:<14} {len(members):>4} searches: execution"
                    f" {statistics.mean(row[1] for row in members):.2f} ms,"
                    f" {statistics.mean(row[2] for row in members):.0f} buffers per search"
                )
    print("  slowest:")
    for term, ms, buffers, matches in sorted(rows, key=lambda row: -row[1])[:8]:
        print(f"    q={term!r}: {ms:.2f} ms, {buffers} buffers, totalItems {matches}")


if __name__ == "__main__":
    main()
