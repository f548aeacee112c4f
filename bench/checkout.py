"""Checkout throughput under contention, through the HTTP API, beside the database's ceiling.

    python bench/checkout.py [--buyers 200] [--seats 50] [--spread-events 50] [--concurrency 16]
        [--workers 4] [--servers wsgi,asgi] [--rate-limits] [--code DIR]

Two scenarios, each on gunicorn with a fresh crowd of signed-in buyers whose carts each hold one
seat:
  hot    --buyers compete for --seats seats of one event (most get a 409);
  spread the same buyers spread over --spread-events events with enough seats for all.
For each: orders/second (all buyers served; in brackets until the last sale, before the late
buyers' 409s), p50/p99 latency, seats sold vs capacity, the count of each status and
the CPU time per checkout of the app's processes, of PostgreSQL and of the load generator (this
process, on the same machine), how many checkouts per second the machine's cores could serve at
that cost, how busy the whole machine was, and the listen-queue overflows (a dropped connection
is retried a second later: a p99 of a second or more). `--servers` picks how gunicorn serves the app: `wsgi`
(wsgi:app on sync workers, the figure issue 12 was measured with) and/or `asgi` (asgi:app on the
asgi worker, as gunicorn.conf.py serves it in production). Rate limits are off unless
`--rate-limits` (checkout itself is not limited; the figure shows what the limiter's per-request
hook costs).
`--code DIR` serves another checkout's code (say, main's) to the same crowd and database, for a
before/after in one run.
Then pgbench runs the same write transaction (lock the tier, conditional `sold + 1`, insert
cart, order, order line and ticket) on one hot tier and on many tiers: the database's ceiling.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
import psycopg

from bench.buyers import BENCH_JWT_SECRET, bench_tiers, conservation, fire, make_crowd
from bench.common import (
    ROOT,
    bench_database,
    cpu_seconds,
    gunicorn,
    postgres_processes,
    server_processes,
)
from shop.database import embedded_bin, libpq_url

PGBENCH_TRANSACTION = """
\\set tier random(:tier_min, :tier_max)
BEGIN;
SELECT id FROM ticket_type WHERE id = :tier FOR UPDATE;
UPDATE ticket_type SET sold = sold + 1 WHERE id = :tier AND sold + 1 <= capacity;
INSERT INTO cart (user_id, status) VALUES (:user_id, 'checked_out') RETURNING id AS cart_id \\gset
INSERT INTO customer_order (user_id, cart_id, total, currency, confirmed_at) VALUES (:user_id, :cart_id, 100, 'DKK', now()) RETURNING id AS order_id \\gset
INSERT INTO order_item (order_id, event_id, ticket_type_id, event_title, event_starts_at, ticket_type_name, unit_price, quantity, line_total) SELECT :order_id, event_id, id, 'x', now(), 'x', 100, 1, 100 FROM ticket_type WHERE id = :tier RETURNING id AS item_id \\gset
INSERT INTO ticket (order_item_id, code) VALUES (:item_id, translate(upper(md5(random()::text)), '0189', 'WXYZ'));
COMMIT;
"""


def postgres_cpu() -> dict[int, float]:
    """CPU seconds so far per process of the bench's PostgreSQL: per pid, since backends start
    with the workers' first connections, during the run."""
    return {process.pid: cpu_seconds([process]) for process in postgres_processes()}


def scenario(name: str, url: str, buyers: int, seats: int, events: int, server: str, args) -> None:
    crowd = make_crowd(url, buyers, seats, events)
    limits = {"RATELIMIT_ENABLED": "true"} if args.rate_limits else {}
    with gunicorn(
        f"{server}:app",
        args.port,
        url,
        workers=args.workers,
        cwd=args.code or ROOT,
        JWT_SECRET_KEY=BENCH_JWT_SECRET,
        **limits,
    ) as master:
        app_processes = server_processes(master)
        app_before, db_before = cpu_seconds(app_processes), postgres_cpu()
        load_before, machine_before = _own_cpu(), psutil.cpu_times()
        overflows_before = _listen_overflows()
        fired = fire(args.port, "/api/cart/checkout", crowd.headers, args.concurrency)
        app_cpu = (cpu_seconds(app_processes) - app_before) / buyers * 1e6
        db_after = postgres_cpu()
        db_cpu = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in db_after.items()) / buyers * 1e6
        load_cpu = (_own_cpu() - load_before) / buyers * 1e6
        machine_cpu = _busy(psutil.cpu_times()) - _busy(machine_before)
        overflows = _listen_overflows() - overflows_before
    db = conservation(url, crowd.tier_ids)
    created = fired.statuses.get(201, 0)
    selling = created / fired.selling_seconds if fired.selling_seconds else 0.0
    print(
        f"{server} {name:<7} {created / fired.seconds:>7.1f} orders/s"
        f" ({selling:>6.1f} while selling)"
        f"  {buyers / fired.seconds:>6.1f} checkouts/s"
        f"  p50 {fired.p50:>6.1f} ms  p99 {fired.p99:>6.1f} ms"
        f"  CPU µs/checkout app {app_cpu:>5.0f} db {db_cpu:>5.0f}"
        f"  sold {db['sold']}/{db['capacity']}  tickets {db['tickets']}"
        f"  statuses {dict(sorted(fired.statuses.items()))}"
    )
    # What bounds the figure: the CPU one checkout costs everything this run started (app,
    # PostgreSQL, this load generator), against what the machine's cores give in the run's time
    # (the rest went to the kernel and to whatever else the machine ran).
    ours = app_cpu + db_cpu + load_cpu
    cores = psutil.cpu_count()
    print(
        f"    CPU µs/checkout: app {app_cpu:.0f} + db {db_cpu:.0f} + load generator"
        f" {load_cpu:.0f} = {ours:.0f}, so {cores} idle cores allow at most"
        f" {cores * 1e6 / ours:.0f} checkouts/s; the machine was busy"
        f" {machine_cpu / (cores * fired.seconds):.0%} of the run"
        f" ({machine_cpu / buyers * 1e6:.0f} µs of all CPU per checkout);"
        f" listen-queue overflows {overflows}"
    )


def _own_cpu() -> float:
    """CPU seconds of this process (the load generator's threads)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


def _busy(times) -> float:
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (Linux): a
    dropped SYN is retried after a second, which would show in the p99."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    names, values = lines[0].split(), lines[1].split()
    return int(dict(zip(names, values, strict=True)).get("ListenOverflows", 0))


def pgbench(url: str, tiers: int, args) -> float:
    """TPS of the checkout write transaction straight on PostgreSQL (no app in between)."""
    with psycopg.connect(libpq_url(url)) as conn:
        user_id = conn.execute(
            "INSERT INTO app_user (email, password_hash, name) VALUES"
            " ('bench-pgbench-' || md5(random()::text) || '@example.com', 'x', 'pgbench') RETURNING id"
        ).fetchone()[0]
        tier_ids = bench_tiers(conn, tiers, 1_000_000_000, "Bench event pgbench")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_TRANSACTION)
    output = subprocess.run(
        [
            embedded_bin("pgbench"),
            "-n",
            "-c",
            str(args.concurrency),
            "-j",
            "2",
            "-T",
            str(args.seconds),
            "-f",
            script.name,
            "-D",
            f"tier_min={min(tier_ids)}",
            "-D",
            f"tier_max={max(tier_ids)}",
            "-D",
            f"user_id={user_id}",
            libpq_url(url),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(re.search(r"tps = ([\d.]+)", output).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--spread-events", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--servers",
        default="wsgi",
        help="comma-separated: wsgi (sync workers), asgi (gunicorn.conf.py's asgi worker)",
    )
    parser.add_argument("--rate-limits", action="store_true", help="RATELIMIT_ENABLED=true")
    parser.add_argument("--seconds", type=int, default=5, help="pgbench duration")
    parser.add_argument("--port", type=int, default=5097)
    parser.add_argument("--code", type=Path, help="serve another checkout's app")
    args = parser.parse_args()
    url = bench_database(10_000)
    print(
        f"checkout through HTTP: {args.buyers} buyers, {args.concurrency} at a time,"
        f" gunicorn x{args.workers} ({args.servers}), rate limits"
        f" {'on' if args.rate_limits else 'off'}, code {args.code or ROOT}"
    )
    per_event = -(-args.buyers // args.spread_events)
    for server in args.servers.split(","):
        scenario("hot", url, args.buyers, args.seats, 1, server, args)
        scenario("spread", url, args.buyers, per_event, args.spread_events, server, args)
    print(
        f"\nthe same write transaction in pgbench (-c {args.concurrency} -j 2 -T {args.seconds}):"
    )
    print(f"hot     one tier:            {pgbench(url, 1, args):>8.0f} tps")
    print(
        f"spread  {args.spread_events} tiers:           {pgbench(url, args.spread_events, args):>8.0f} tps"
    )


if __name__ == "__main__":
    main()
