"""Every benchmark with its target, in one table.

    python bench/run_all.py [--runs 3] [--seconds 5]

On the seeded 10 000-event catalogue, under the project's gunicorn config (sync workers x4),
wrk -t2 -c16 (Debian's wrk), each figure the median of --runs runs with min–max, plus CPU
microseconds per request for the app (gunicorn master + workers) and PostgreSQL:
  - GET /api/events page 1 against a minimal Flask "hello" (target: >= 0.5x), p99 < 50 ms;
    served as configured (2 s page cache) and with every cache off;
  - page 400 against page 1, caches off (target: within 2x);
  - full-text search on 100 000 events, caches off, one connection: p50 < 20 ms;
  - checkout contention, 200 buyers for 50 seats: exactly 50 sold, no 5xx;
  - `flask seed --events 100000` time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.buyers import BENCH_JWT_SECRET, conservation, fire, make_crowd
from bench.common import ROOT, bench_database, gunicorn, median_of, print_table, python_env, wrk_run

NO_CACHE = {"LISTING_CACHE_SECONDS": "0", "LISTING_COUNT_CACHE_SECONDS": "0"}
SEARCHES = ["jazz copenhagen", "comedy", "nordic symphonies", "harbour", "aarhus theatre", "polka"]


def measure(url: str, master, runs: int, seconds: int, **kwargs) -> dict:
    wrk_run(url, master, seconds=1, **kwargs)
    return median_of([wrk_run(url, master, seconds=seconds, **kwargs) for _ in range(runs)])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--port", type=int, default=5099)
    args = parser.parse_args()
    started = time.perf_counter()
    url = bench_database(10_000)
    port = args.port
    rows = []
    with gunicorn("bench.hello_app:app", port) as master:
        hello = measure(f"http://127.0.0.1:{port}/", master, args.runs, args.seconds)
    rows.append(("hello (reference)", hello))
    with gunicorn("wsgi:app", port, url) as master:
        cached = measure(f"http://127.0.0.1:{port}/api/events", master, args.runs, args.seconds)
    rows.append(("list page 1 (as configured)", cached))
    with gunicorn("wsgi:app", port, url, **NO_CACHE) as master:
        page1 = measure(f"http://127.0.0.1:{port}/api/events", master, args.runs, args.seconds)
        page400 = measure(
            f"http://127.0.0.1:{port}/api/events?page=400", master, args.runs, args.seconds
        )
    rows += [("list page 1 (caches off)", page1), ("list page 400 (caches off)", page400)]
    print_table(
        f"catalogue, 10 000 events, gunicorn sync x4, wrk -t2 -c16, median of {args.runs} x {args.seconds}s",
        rows,
    )

    big = bench_database(100_000)
    seed_started = time.perf_counter()  # a fresh seed of 100 000 events, timed end to end
    subprocess.run(
        [sys.executable, "-m", "flask", "seed", "--reset", "--events", "100000"],
        cwd=ROOT,
        env=python_env(DATABASE_URL=big),
        check=True,
        capture_output=True,
    )
    seed_seconds = time.perf_counter() - seed_started
    search_p50 = []
    with gunicorn("wsgi:app", port, big, **NO_CACHE) as master:
        for term in SEARCHES:
            run = measure(
                f"http://127.0.0.1:{port}/api/events?q={term.replace(' ', '%20')}",
                master,
                1,
                2,
                connections=1,
                threads=1,
            )
            search_p50.append(run["p50_ms"])

    crowd = make_crowd(url, 200, 50, events=1)
    with gunicorn("wsgi:app", port, url, JWT_SECRET_KEY=BENCH_JWT_SECRET):
        fired = fire(port, "/api/cart/checkout", crowd.headers, 16)
    sold = conservation(url, crowd.tier_ids)
    server_errors = sum(n for status, n in fired.statuses.items() if status >= 500)

    ratio = cached["rps"] / hello["rps"]
    deep = page1["rps"] / page400["rps"]
    targets = [
        ("list page 1 throughput / hello", f"{ratio:.2f}", ">= 0.50", ratio >= 0.5),
        (
            "list page 1 p99 at 16 connections",
            f"{cached['p99_ms']:.1f} ms",
            "< 50 ms",
            cached["p99_ms"] < 50,
        ),
        ("page 1 / page 400 time (caches off)", f"{deep:.2f}x", "<= 2x", deep <= 2),
        (
            "search p50 on 100 000 events (median of 6 terms)",
            f"{statistics.median(search_p50):.1f} ms",
            "< 20 ms",
            statistics.median(search_p50) < 20,
        ),
        (
            "checkout 200 buyers / 50 seats: sold",
            f"{sold['sold']} (tickets {sold['tickets']})",
            "exactly 50",
            sold["sold"] == sold["tickets"] == 50,
        ),
        ("checkout: 5xx answers", str(server_errors), "0", server_errors == 0),
        (
            "checkout: orders per second",
            f"{fired.statuses.get(201, 0) / fired.seconds:.1f}",
            "printed",
            True,
        ),
        (
            "flask seed --events 100000",
            f"{seed_seconds:.1f} s",
            "well under 60 s",
            seed_seconds < 60,
        ),
    ]
    print("\ntargets")
    for name, value, target, met in targets:
        print(f"{name:<50} {value:>22}  {target:<16} {'met' if met else 'NOT MET'}")
    print(
        f"\nsearch p50 per term (ms): {dict(zip(SEARCHES, [round(p, 1) for p in search_p50], strict=True))}"
    )
    print(
        f"checkout statuses: {dict(sorted(fired.statuses.items()))}; total bench time {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
