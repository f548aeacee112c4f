"""Checkout latency in-process (no HTTP server): the app's own cost per checkout.

    python bench/checkout_latency.py [--checkouts 300] [--lines 1] [--lapsed] [--rate-limits]
        [--no-key] [--sold-out] [--calls] [--code DIR]

Buyers with a one-line cart (or `--lines` lines) whose hold is live (`--lapsed`: lapsed) check
out one after another through the Flask test client, with an `Idempotency-Key` (`--no-key`:
without, as bench/checkout.py's rush buyers), on the bench database. `--sold-out`: every tier is
sold out, so every checkout is the 409 most of an on-sale rush gets (the sold-out fast path).
`--calls` also counts the Python function calls per checkout (cProfile): a figure of the app's
work that does not depend on what else the machine is doing. Prints p50/p90 wall time per checkout (the commit's WAL flush included), the app's
CPU time, and the SQL statements and commits one checkout sends. Rate limits are off unless
`--rate-limits` (the configured storage; checkout has no limit of its own, so the figure is
what the limiter's per-request hook costs). `--code DIR` measures another checkout's app (say, main's) with this same script and database.
Target (issue 12): one-line cart, p50 <= 6 ms,
<= 8 statements, 1 commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.common import import_shop_from_code_argument

import_shop_from_code_argument()

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.buyers import BENCH_JWT_SECRET, bench_tiers, reset_sales  # noqa: E402
from bench.common import bench_database  # noqa: E402
from shop.database import libpq_url  # noqa: E402


def arrange(url: str, buyers: int, lines: int, lapsed: bool, sold_out: bool = False) -> list[int]:
    """`buyers` users, each with an open cart of one seat on each of `lines` bench tiers (sold
    out, with `sold_out`)."""
    reset_sales(url)
    hold = "now() - interval '1 minute'" if lapsed else "now() + interval '1 hour'"
    with psycopg.connect(libpq_url(url)) as conn:
        tier_ids = bench_tiers(conn, lines, 1_000_000, "Bench event latency")
        if sold_out:
            conn.execute("UPDATE ticket_type SET sold = capacity WHERE id = ANY(%s)", (tier_ids,))
        user_ids = [
            row[0]
            for row in conn.execute(
                "INSERT INTO app_user (email, password_hash, name)"
                " SELECT 'bench-' || g || '-' || md5(random()::text) || '@example.com', 'x', 'B'"
                " FROM generate_series(1, %s) g RETURNING id",
                (buyers,),
            )
        ]
        for user_id in user_ids:
            cart_id = conn.execute(
                f"INSERT INTO cart (user_id, hold_expires_at) VALUES (%s, {hold}) RETURNING id",
                (user_id,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)"
                " SELECT %s, event_id, id, 1, price FROM ticket_type WHERE id = ANY(%s)",
                (cart_id, tier_ids),
            )
    return user_ids


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkouts", type=int, default=300)
    parser.add_argument("--lines", type=int, default=1)
    parser.add_argument("--lapsed", action="store_true", help="carts whose hold has lapsed")
    parser.add_argument("--rate-limits", action="store_true", help="RATELIMIT_ENABLED=true")
    parser.add_argument("--no-key", action="store_true", help="no Idempotency-Key")
    parser.add_argument("--sold-out", action="store_true", help="every checkout is a 409")
    parser.add_argument("--calls", action="store_true", help="Python function calls per checkout")
    parser.add_argument("--code", type=Path, help="measure another checkout's app")
    args = parser.parse_args()
    expected_status = 409 if args.sold_out else 201

    from flask_jwt_extended import create_access_token

    from shop import create_app

    url = bench_database(10_000)
    user_ids = arrange(url, args.checkouts + 1, args.lines, args.lapsed, args.sold_out)
    app = create_app(
        "development",
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "JWT_SECRET_KEY": BENCH_JWT_SECRET,
            "RATELIMIT_ENABLED": args.rate_limits,
            "LOG_LEVEL": "WARNING",
        },
    )
    with app.app_context():
        tokens = [create_access_token(identity=str(user_id)) for user_id in user_ids]
    client = app.test_client()

    statements, commits = [], []

    def count_statement(*args):
        statements.append(args[2])

    def count_commit(conn):
        commits.append(1)

    event.listen(Engine, "before_cursor_execute", count_statement)
    event.listen(Engine, "commit", count_commit)

    cpu_ms = []

    def checkout(n: int) -> float:
        headers = {"Authorization": f"Bearer {tokens[n]}"}
        if not args.no_key:
            headers["Idempotency-Key"] = f"bench-{n}"
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.post("/api/cart/checkout", headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        cpu_ms.append((time.process_time() - cpu_started) * 1000)
        assert response.status_code == expected_status, response.get_data(as_text=True)
        return elapsed

    checkout(0)  # warm up: connection pool, compiled statements, schemas
    statements.clear()
    commits.clear()
    checkout(1)
    per_checkout = (len(statements), len(commits))
    # Counted in this untimed checkout only: a statement listener makes `read_rows` (and the
    # catalogue's reads) take SQLAlchemy's slower path, so the timed checkouts run without it.
    event.remove(Engine, "before_cursor_execute", count_statement)
    event.remove(Engine, "commit", count_commit)
    if args.calls:
        import cProfile
        import pstats

        half = len(tokens) // 2
        profile = cProfile.Profile()
        profile.enable()
        for n in range(2, half):
            checkout(n)
        profile.disable()
        calls = pstats.Stats(profile).total_calls / (half - 2)
        print(f"Python function calls per checkout: {calls:.0f}")
        tokens = tokens[:2] + tokens[half:]  # the rest are timed without the profiler
        cpu_ms.clear()
    times = sorted(checkout(n) for n in range(2, len(tokens)))
    p90 = times[int(len(times) * 0.9)]
    print(
        f"checkout in-process, {args.lines}-line cart, hold {'lapsed' if args.lapsed else 'live'},"
        f"{' sold out (409),' if args.sold_out else ''}"
        f" {'no key' if args.no_key else 'Idempotency-Key'},"
        f" rate limits {'on' if args.rate_limits else 'off'},"
        f" {len(times)} checkouts: p50 {statistics.median(times):.2f} ms  p90 {p90:.2f} ms"
        f"  app CPU p50 {statistics.median(cpu_ms):.2f} ms"
        f"  statements {per_checkout[0]}  commits {per_checkout[1]}"
    )
    reset_sales(url)


if __name__ == "__main__":
    main()
