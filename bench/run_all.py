"""Every read-path figure of the catalogue beside a minimal Flask "hello", in one run.

    python bench/run_all.py [--runs 3] [--seconds 5] [--port 5099] [--baseline DIR] [--checkout]
                            [--no-seed]

Three gunicorn masters (the project's config, sync workers x4) serve at once: hello, the shop on
10 000 events and the shop on 100 000 events. wrk -t2 -c16 (Debian's wrk) measures each workload
in turn, --runs rounds interleaved (hello, browse, detail, ..., then again), so a noisy moment on
this shared machine hits every workload alike; every figure is the median with the min–max of
throughput. CPU microseconds per request are counted for the app (its gunicorn master and
workers) and for PostgreSQL (the bench's own server).

The workloads are URL mixes (bench/mixes.py): thousands of distinct listing, search and detail
URLs, so no per-process cache can carry a figure. One URL asked for again and again
(`GET /api/events`) is printed beside them for reference only.

--baseline DIR serves another checkout's code too (e.g. `git worktree add /tmp/base main`), on the
same bench databases (their schema must match), so before and after are measured in one run,
interleaved, against the same hello.

--production-hooks serves the shop (both checkouts) with what the benches otherwise switch off
and production has on: rate limits counted in PostgreSQL and the access log at INFO (written to
a file), so the per-request cost a deployment pays is in the figures (bench/request_overhead.py
breaks it down by layer).

--checkout also runs bench/checkout.py (the on-sale rush with pgbench's ceiling) and prints its
output; --no-seed skips timing a fresh `flask seed --events 100000`.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.common import ROOT, bench_database, gunicorn, median_of, print_table, python_env, wrk_run
from bench.mixes import browse_paths, detail_paths, public_event_ids, search_paths
from shop.database import libpq_url

# Issue 12's targets: throughput as a share of hello's, p99 at 16 connections.
TARGETS = {"browse": 0.35, "detail": 0.40, "search": 0.35}
P99_TARGET_MS = 50
# At 100 000 events the mixes keep at least this share of their 10 000-event throughput.
GROWTH_LIMIT = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument(
        "--port", type=int, default=5099, help="uses this port and the next two (four: --baseline)"
    )
    parser.add_argument("--baseline", type=Path, help="another checkout to measure beside this one")
    parser.add_argument("--checkout", action="store_true", help="also run bench/checkout.py")
    parser.add_argument("--checkout-args", default="--buyers 2000 --seats 500 --concurrency 64")
    parser.add_argument("--no-seed", action="store_true", help="skip timing a 100 000-event seed")
    parser.add_argument(
        "--production-hooks", action="store_true", help="rate limits on, access log at INFO"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    small, big = bench_database(10_000), bench_database(100_000)
    mixes = {}
    for name, url in (("10k", small), ("100k", big)):
        with psycopg.connect(libpq_url(url)) as conn:
            mixes[name] = {
                "browse": browse_paths(),
                "detail": detail_paths(public_event_ids(conn)),
                "search": search_paths(),
            }
    hello_port, small_port, big_port = args.port, args.port + 1, args.port + 2
    workloads = [
        ("hello (reference)", hello_port, {"url": f"http://127.0.0.1:{hello_port}/"}),
        ("browse mix, 10k", small_port, {"paths": mixes["10k"]["browse"]}),
        ("detail mix, 10k", small_port, {"paths": mixes["10k"]["detail"]}),
        ("search mix, 10k", small_port, {"paths": mixes["10k"]["search"]}),
        ("browse mix, 100k", big_port, {"paths": mixes["100k"]["browse"]}),
        ("detail mix, 100k", big_port, {"paths": mixes["100k"]["detail"]}),
        ("search mix, 100k", big_port, {"paths": mixes["100k"]["search"]}),
        (
            "one URL: GET /api/events, 10k",
            small_port,
            {"url": f"http://127.0.0.1:{small_port}/api/events"},
        ),
    ]
    if args.baseline:
        base_small, base_big = args.port + 3, args.port + 4
        moved = {small_port: base_small, big_port: base_big}
        workloads += [
            (f"{name} (baseline)", moved[port], target)
            for name, port, target in workloads
            if port in moved and "one URL" not in name
        ]
    runs: dict[str, list] = {name: [] for name, _, _ in workloads}
    hooks = (
        {"RATELIMIT_ENABLED": "true", "RATELIMIT_STORAGE_URI": "database://", "LOG_LEVEL": "INFO"}
        if args.production_hooks
        else {}
    )
    with contextlib.ExitStack() as servers:
        masters = {
            hello_port: servers.enter_context(gunicorn("bench.hello_app:app", hello_port)),
            small_port: servers.enter_context(gunicorn("wsgi:app", small_port, small, **hooks)),
            big_port: servers.enter_context(gunicorn("wsgi:app", big_port, big, **hooks)),
        }
        if args.baseline:
            for port, url in ((base_small, small), (base_big, big)):
                masters[port] = servers.enter_context(
                    gunicorn("wsgi:app", port, url, cwd=args.baseline.resolve(), **hooks)
                )
        for _name, port, target in workloads:  # warm up every worker and connection pool
            wrk_run(
                target.get("url", f"http://127.0.0.1:{port}"),
                masters[port],
                seconds=1,
                paths=target.get("paths"),
            )
        for _ in range(args.runs):
            for name, port, target in workloads:
                runs[name].append(
                    wrk_run(
                        target.get("url", f"http://127.0.0.1:{port}"),
                        masters[port],
                        seconds=args.seconds,
                        paths=target.get("paths"),
                    )
                )
    figures = {name: median_of(measured) for name, measured in runs.items()}
    hello = figures["hello (reference)"]["rps"]
    print_table(
        f"read path, gunicorn sync x4, wrk -t2 -c16, median of {args.runs} x {args.seconds}s"
        " (rounds interleaved)" + (", production hooks" if args.production_hooks else ""),
        list(figures.items()),
        reference=hello,
    )

    checks = []
    for mix, share in TARGETS.items():
        for size in ("10k", "100k"):
            figure = figures[f"{mix} mix, {size}"]
            ratio = figure["rps"] / hello
            checks.append(
                (f"{mix} mix {size}: x hello", f"{ratio:.2f}", f">= {share}", ratio >= share)
            )
            checks.append(
                (
                    f"{mix} mix {size}: p99",
                    f"{figure['p99_ms']:.1f} ms",
                    f"< {P99_TARGET_MS} ms",
                    figure["p99_ms"] < P99_TARGET_MS,
                )
            )
    for mix in ("browse", "search"):
        slower = figures[f"{mix} mix, 10k"]["rps"] / figures[f"{mix} mix, 100k"]["rps"]
        checks.append(
            (
                f"{mix}: 10k / 100k throughput",
                f"{slower:.2f}x",
                f"<= {GROWTH_LIMIT}x",
                slower <= GROWTH_LIMIT,
            )
        )
    if args.baseline:
        print(f"\nbefore ({args.baseline}) -> after (this checkout), same run")
        for name in figures:
            before = figures.get(f"{name} (baseline)")
            if before:
                after = figures[name]
                print(
                    f"{name:<20} x hello {before['rps'] / hello:.3f} -> {after['rps'] / hello:.3f}"
                    f" ({after['rps'] / before['rps']:.2f}x), p99 {before['p99_ms']:.0f} ->"
                    f" {after['p99_ms']:.0f} ms, CPU us app+db {before['app_cpu_us']:.0f}+"
                    f"{before['db_cpu_us']:.0f} -> {after['app_cpu_us']:.0f}+"
                    f"{after['db_cpu_us']:.0f}"
                )
    errors = sum(int(figure["errors"]) for figure in figures.values())
    checks.append(("errors and non-2xx answers", str(errors), "0", errors == 0))
    if not args.no_seed:
        seed_started = time.perf_counter()  # a fresh seed of 100 000 events, timed end to end
        subprocess.run(
            [sys.executable, "-m", "flask", "seed", "--reset", "--events", "100000"],
            cwd=ROOT,
            env=python_env(DATABASE_URL=big),
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - seed_started
        checks.append(("flask seed --events 100000", f"{seconds:.1f} s", "< 60 s", seconds < 60))
    print("\ntargets (issue 12)")
    for name, value, target, met in checks:
        print(f"{name:<36} {value:>12}  {target:<10} {'met' if met else 'NOT MET'}")

    if args.checkout:
        print(f"\ncheckout: python bench/checkout.py {args.checkout_args} --port {args.port}")
        sys.stdout.flush()
        subprocess.run(
            [
                sys.executable,
                "bench/checkout.py",
                *args.checkout_args.split(),
                "--port",
                str(args.port),
            ],
            cwd=ROOT,
            check=True,
        )
    print(f"\ntotal bench time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
