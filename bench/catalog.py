"""Catalogue throughput and latency under gunicorn (sync workers) on a seeded bench database.

    python bench/catalog.py [--events 10000] [--seconds 5] [--runs 3] [--workers 4]

Prints, per route, the median of `--runs` wrk runs (16 connections, 2 threads) with the min–max
of throughput, p50/p99 latency, and CPU microseconds per request spent by the app (gunicorn
master + workers) and by PostgreSQL. A minimal Flask "hello" under the same settings is the
reference ceiling. wrk comes from the Debian package.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database, gunicorn, median_of, print_table, wrk_run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=5091)
    args = parser.parse_args()

    url = bench_database(args.events)
    rows = []
    with gunicorn("bench.hello_app:app", args.port, workers=args.workers) as master:
        runs = [
            wrk_run(f"http://127.0.0.1:{args.port}/", master, seconds=args.seconds)
            for _ in range(args.runs)
        ]
        rows.append(("hello (reference)", median_of(runs)))
    with gunicorn("wsgi:app", args.port, url, workers=args.workers) as master:
        base = f"http://127.0.0.1:{args.port}/api/events"
        with urllib.request.urlopen(base + "?pageSize=1") as response:  # noqa: S310 - loopback
            event_id = json.load(response)["data"][0]["id"]
        routes = [
            ("GET /api/events (page 1)", base),
            ("GET /api/events?page=400", base + "?page=400"),
            ("GET /api/events?q=jazz copenhagen", base + "?q=jazz%20copenhagen"),
            ("GET /api/events?category&sort=price", base + "?category=jazz&sort=price"),
            (f"GET /api/events/{event_id}", f"{base}/{event_id}"),
        ]
        for name, route in routes:
            wrk_run(route, master, seconds=1)  # warm the workers' caches and pools
            runs = [wrk_run(route, master, seconds=args.seconds) for _ in range(args.runs)]
            rows.append((name, median_of(runs)))
    print_table(
        f"catalogue on {args.events} events, gunicorn sync x{args.workers}, wrk -t2 -c16,"
        f" median of {args.runs} x {args.seconds}s",
        rows,
    )
    hello = rows[0][1]["rps"]
    print(f"\nlist page 1 / hello throughput: {rows[1][1]['rps'] / hello:.2f}")
    print(f"page 400 / page 1 throughput:   {rows[2][1]['rps'] / rows[1][1]['rps']:.2f}")


if __name__ == "__main__":
    main()
