"""What `listed_event`'s triggers (migration 0013) cost a sale: the checkout's write transaction
in pgbench with them enabled and disabled in turn, same run, on the 10 000-event bench database.

    python bench/listed_event_sale.py [--rounds 3] [--seconds 5] [--concurrency 64]

Each round runs bench/checkout.py's pgbench transaction (lock the tier, conditional `sold + 1`,
insert cart, order, order line and ticket) on one hot tier and on 50 tiers, once with the
triggers disabled (main's schema, as far as a sale can tell) and once enabled, alternating which
goes first. With `track_functions = 'pl'` it also counts how many times the triggers' functions
ran during the enabled runs: a sale should call them 0 times (their `WHEN` clauses name only
the columns an item shows, and a sale changes none of them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.checkout import pgbench
from bench.common import bench_database
from shop.database import libpq_url

TRIGGERS = [
    ("event", "listed_event_insert"),
    ("event", "listed_event_update"),
    ("venue", "listed_event_venue_update"),
    ("category", "listed_event_category_update"),
]
FUNCTIONS = ("listed_event_from_event", "listed_event_from_place")


def set_triggers(url: str, enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for table, trigger in TRIGGERS:
            conn.execute(f'ALTER TABLE "{table}" {verb} TRIGGER "{trigger}"')


def function_calls(url: str) -> int:
    """Calls of the triggers' functions counted so far in this database (pg_stat)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        row = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = ANY(%s)",
            (list(FUNCTIONS),),
        ).fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--spread-events", type=int, default=50)
    args = parser.parse_args()
    url = bench_database(10_000)
    database = url.rsplit("/", 1)[-1].split("?")[0]
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{database}\" SET track_functions = 'pl'")
    tps: dict[tuple[str, bool], list[float]] = {}
    calls_during_sales = 0
    try:
        for round_ in range(args.rounds):
            for enabled in (round_ % 2 == 0, round_ % 2 == 1):
                set_triggers(url, enabled)
                for kind, tiers in (("hot", 1), ("spread", args.spread_events)):
                    # bench_tiers makes the pgbench events (an insert and a price: the
                    # triggers' work, before the clock starts); only the sales are counted.
                    before = function_calls(url)
                    rate = pgbench(url, tiers, args)
                    setup_calls = 2 * tiers if enabled else 0
                    calls_during_sales += function_calls(url) - before - setup_calls
                    tps.setdefault((kind, enabled), []).append(rate)
                    print(
                        f"round {round_ + 1} triggers {'on ' if enabled else 'off'}"
                        f" {kind:<6} {rate:>8.0f} tps",
                        flush=True,
                    )
    finally:
        set_triggers(url, True)
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{database}" RESET track_functions')
    print(f"\npgbench -c {args.concurrency} -j 2 -T {args.seconds}, median tps of {args.rounds}:")
    for kind in ("hot", "spread"):
        off, on = statistics.median(tps[kind, False]), statistics.median(tps[kind, True])
        print(f"{kind:<6} triggers off {off:>8.0f}  on {on:>8.0f}  on/off {on / off:.2f}")
    print(f"trigger function calls during the sales: {calls_during_sales}")


if __name__ == "__main__":
    main()
