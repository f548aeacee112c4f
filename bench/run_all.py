"""Every figure of issue 12 beside a minimal Flask "hello", in one run.

    python bench/run_all.py [--runs 3] [--seconds 5] [--port 5099] [--baseline DIR]
                            [--servers wsgi,asgi] [--only detail,browse] [--production-hooks]
                            [--checkout] [--no-seed]

gunicorn masters (the project's config, 4 workers each) serve at once: hello, the shop on 10 000
events and the shop on 100 000 events, for each kind of server in --servers: `wsgi` (wsgi:app on
sync workers, the setting issue 12 was measured with) and `asgi` (asgi:app on gunicorn's asgi
worker, as gunicorn.conf.py serves production; its hello is the same Flask app behind the same
asyncio front, bench/hello_app.py). wrk -t2 -c16 (Debian's wrk) measures each workload in turn,
--runs rounds interleaved (hello, browse, detail, ..., then again), so a noisy moment on this
shared machine hits every workload alike; every figure is the median with the min–max of
throughput, and "x hello" divides by the hello of the same server kind. CPU microseconds per
request are counted for the app (its gunicorn master and workers) and for PostgreSQL (the
bench's own server). The load average is printed with the figures.

The workloads are URL mixes (bench/mixes.py): thousands of distinct listing, search and detail
URLs, so no per-process cache can carry a figure. One URL asked for again and again
(`GET /api/events`) is printed beside them for reference only. --only keeps some mixes (hello
always runs), for quick iterations; the targets block then checks only those.

--baseline DIR serves another checkout's code too (e.g. `git worktree add /tmp/base main`), on the
same bench databases (their schema must match), so before and after are measured in one run,
interleaved, against the same hello.

--production-hooks serves the shop (both checkouts) with what the benches otherwise switch off
and production has on: rate limits counted in PostgreSQL and the access log at INFO (written to
a file), so the per-request cost a deployment pays is in the figures (bench/request_overhead.py
breaks it down by layer).

--checkout also prints the write path's figures (issue 12 items 2 and 3): the checkout line
(bench/checkout_latency.py: in-process p50, statements and commits of a one-line checkout),
add-to-cart in-process (bench/cart.py) and the on-sale rush with pgbench's ceiling (bench/checkout.py). --no-seed skips timing a fresh
`flask seed --events 100000`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
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
MIXES = ("browse", "detail", "search")
# Checkout in-process (issue 12 item 2): p50 wall ms and statements and commits, at most.
CHECKOUT_P50_MS, CHECKOUT_STATEMENTS, CHECKOUT_COMMITS = 6, 8, 1
# Add-to-cart in-process (item 2): median wall ms, at most.
ADD_TO_CART_MS = 4


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument(
        "--port",
        type=int,
        default=5099,
        help="the first of the ports used: three per server kind (five with --baseline)",
    )
    parser.add_argument("--baseline", type=Path, help="another checkout to measure beside this one")
    parser.add_argument(
        "--servers",
        default="wsgi",
        help="comma-separated: wsgi (sync workers), asgi (gunicorn.conf.py's asgi worker)",
    )
    parser.add_argument(
        "--only", help=f"comma-separated mixes to measure ({', '.join(MIXES)}); default: all"
    )
    parser.add_argument("--checkout", action="store_true", help="also the checkout and rush")
    parser.add_argument("--checkout-args", default="--buyers 2000 --seats 500 --concurrency 64")
    parser.add_argument("--no-seed", action="store_true", help="skip timing a 100 000-event seed")
    parser.add_argument(
        "--production-hooks", action="store_true", help="rate limits on, access log at INFO"
    )
    args = parser.parse_args()
    servers = args.servers.split(",")
    mixes_wanted = args.only.split(",") if args.only else list(MIXES)
    unknown = {*servers} - {"wsgi", "asgi"} | {*mixes_wanted} - {*MIXES}
    if unknown:
        parser.error(f"unknown --servers or --only value(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    small, big = bench_database(10_000), bench_database(100_000)
    mixes = {}
    for size, url in (("10k", small), ("100k", big)):
        with psycopg.connect(libpq_url(url)) as conn:
            mixes[size] = {
                "browse": browse_paths(),
                "detail": detail_paths(public_event_ids(conn)),
                "search": search_paths(),
            }
    hooks = (
        {"RATELIMIT_ENABLED": "true", "RATELIMIT_STORAGE_URI": "database://", "LOG_LEVEL": "INFO"}
        if args.production_hooks
        else {}
    )
    # One list of servers and one of workloads for every server kind, measured in the same
    # interleaved rounds.
    served: list[tuple[int, str, str | None, Path]] = []  # port, app, database, checkout
    workloads: list[tuple[str, int, dict]] = []
    port = args.port
    for server in servers:
        tag = "" if len(servers) == 1 else f" [{server}]"
        hello_app = "bench.hello_app:asgi_app" if server == "asgi" else "bench.hello_app:app"
        shop_app = "asgi:app" if server == "asgi" else "wsgi:app"
        hello_port, small_port, big_port = port, port + 1, port + 2
        served += [
            (hello_port, hello_app, None, ROOT),
            (small_port, shop_app, small, ROOT),
            (big_port, shop_app, big, ROOT),
        ]
        ours = [(f"hello (reference){tag}", hello_port, {"url": f"http://127.0.0.1:{hello_port}/"})]
        for size, size_port in (("10k", small_port), ("100k", big_port)):
            ours += [
                (f"{mix} mix, {size}{tag}", size_port, {"paths": mixes[size][mix]})
                for mix in MIXES
                if mix in mixes_wanted
            ]
        if not args.only:
            ours.append(
                (
                    f"one URL: GET /api/events, 10k{tag}",
                    small_port,
                    {"url": f"http://127.0.0.1:{small_port}/api/events"},
                )
            )
        port += 3
        if args.baseline:
            base_small, base_big = port, port + 1
            baseline = args.baseline.resolve()
            served += [(base_small, shop_app, small, baseline), (base_big, shop_app, big, baseline)]
            moved = {small_port: base_small, big_port: base_big}
            ours += [
                (f"{name} (baseline)", moved[on], target)
                for name, on, target in ours
                if on in moved and "one URL" not in name
            ]
            port += 2
        workloads += ours
    runs: dict[str, list] = {name: [] for name, _, _ in workloads}
    with contextlib.ExitStack() as stack:
        masters = {
            on: stack.enter_context(gunicorn(app, on, url, cwd=cwd, **(hooks if url else {})))
            for on, app, url, cwd in served
        }
        for _name, on, target in workloads:  # warm up every worker and connection pool
            wrk_run(
                target.get("url", f"http://127.0.0.1:{on}"),
                masters[on],
                seconds=1,
                paths=target.get("paths"),
            )
        for _ in range(args.runs):
            for name, on, target in workloads:
                runs[name].append(
                    wrk_run(
                        target.get("url", f"http://127.0.0.1:{on}"),
                        masters[on],
                        seconds=args.seconds,
                        paths=target.get("paths"),
                    )
                )
    figures = {name: median_of(measured) for name, measured in runs.items()}
    load = os.getloadavg()
    checks = []
    for server in servers:
        tag = "" if len(servers) == 1 else f" [{server}]"
        rows = [(name, figure) for name, figure in figures.items() if tag in name]
        hello = figures[f"hello (reference){tag}"]["rps"]
        kind = "asgi:app on the asgi worker" if server == "asgi" else "wsgi:app on sync workers"
        print_table(
            f"read path, gunicorn x4, {kind}, wrk -t2 -c16, median of {args.runs} x"
            f" {args.seconds}s (rounds interleaved)"
            + (", production hooks" if args.production_hooks else ""),
            rows,
            reference=hello,
        )
        checks += target_checks(figures, mixes_wanted, tag, hello)
        if args.baseline:
            print(f"\nbefore ({args.baseline}) -> after (this checkout), same run{tag}")
            for name, after in rows:
                before = figures.get(f"{name} (baseline)")
                if before:
                    print(
                        f"{name:<26} x hello {before['rps'] / hello:.3f} ->"
                        f" {after['rps'] / hello:.3f} ({after['rps'] / before['rps']:.2f}x),"
                        f" p50 {before['p50_ms']:.1f} -> {after['p50_ms']:.1f} ms,"
                        f" p99 {before['p99_ms']:.0f} -> {after['p99_ms']:.0f} ms,"
                        f" CPU us app+db {before['app_cpu_us']:.0f}+{before['db_cpu_us']:.0f}"
                        f" -> {after['app_cpu_us']:.0f}+{after['db_cpu_us']:.0f}"
                    )
    print(
        f"\nload average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (1, 5, 15 min)"
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
    if args.checkout:
        checks += checkout_checks()
    print("\ntargets (issue 12)")
    for name, value, target, met in checks:
        print(f"{name:<40} {value:>12}  {target:<10} {'met' if met else 'NOT MET'}")

    if args.checkout:
        print(f"\nthe rush: python bench/checkout.py {args.checkout_args} --port {args.port}")
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


def target_checks(figures: dict, mixes_wanted: list[str], tag: str, hello: float) -> list:
    """Issue 12 items 1 and 4 for one server kind: (name, value, target, met) rows."""
    checks = []
    for mix, share in TARGETS.items():
        if mix not in mixes_wanted:
            continue
        for size in ("10k", "100k"):
            figure = figures[f"{mix} mix, {size}{tag}"]
            ratio = figure["rps"] / hello
            checks.append(
                (f"{mix} mix {size}{tag}: x hello", f"{ratio:.2f}", f">= {share}", ratio >= share)
            )
            checks.append(
                (
                    f"{mix} mix {size}{tag}: p99",
                    f"{figure['p99_ms']:.1f} ms",
                    f"< {P99_TARGET_MS} ms",
                    figure["p99_ms"] < P99_TARGET_MS,
                )
            )
    for mix in ("browse", "search"):
        if mix not in mixes_wanted:
            continue
        small, big = figures[f"{mix} mix, 10k{tag}"], figures[f"{mix} mix, 100k{tag}"]
        slower = small["rps"] / big["rps"]
        checks.append(
            (
                f"{mix}{tag}: 10k / 100k throughput",
                f"{slower:.2f}x",
                f"<= {GROWTH_LIMIT}x",
                slower <= GROWTH_LIMIT,
            )
        )
    return checks


def checkout_checks() -> list:
    """Issue 12 item 2: the checkout line of bench/checkout_latency.py and add-to-cart's of
    bench/cart.py (without its flood drill), printed and checked."""
    print("\nthe checkout line: python bench/checkout_latency.py")
    output = subprocess.run(
        [sys.executable, "bench/checkout_latency.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = output.strip().splitlines()[-1]
    print(line)
    found = re.search(r"p50 ([\d.]+) ms.*statements (\d+)\s+commits (\d+)", line)
    if not found:
        return [("checkout line", "unreadable", "", False)]
    p50, statements, commits = float(found[1]), int(found[2]), int(found[3])
    print("\nadd-to-cart: python bench/cart.py --adds 300 --flood 0")
    adds = subprocess.run(
        [sys.executable, "bench/cart.py", "--adds", "300", "--flood", "0"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = [line for line in adds.splitlines() if " median " in line]
    print("\n".join(lines))
    empty_cart = re.search(r"signed-in, empty cart\s+median\s+([\d.]+) ms", adds)
    add_ms = float(empty_cart[1]) if empty_cart else float("inf")
    return [
        (
            "add-to-cart in-process median",
            f"{add_ms:.2f} ms",
            f"<= {ADD_TO_CART_MS} ms",
            add_ms <= ADD_TO_CART_MS,
        ),
        (
            "checkout in-process p50",
            f"{p50:.2f} ms",
            f"<= {CHECKOUT_P50_MS} ms",
            p50 <= CHECKOUT_P50_MS,
        ),
        (
            "checkout statements, commits",
            f"{statements}, {commits}",
            f"<= {CHECKOUT_STATEMENTS}, {CHECKOUT_COMMITS}",
            statements <= CHECKOUT_STATEMENTS and commits <= CHECKOUT_COMMITS,
        ),
    ]


if __name__ == "__main__":
    main()
