"""One buyer retries the same checkout many times at once, across two gunicorn masters.

    python bench/idempotency.py [--requests 60] [--concurrency 12] [--masters 2]

Every request carries the same Idempotency-Key. Expected: exactly one order and one set of
tickets; every other answer is the replayed 201 (Idempotent-Replayed: true) or a 409 "still
running"; no 5xx. Two separate masters on two ports share only the database, which is the
statelessness scaling out relies on (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.buyers import BENCH_JWT_SECRET, conservation, make_crowd
from bench.common import bench_database, gunicorn


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--masters", type=int, default=2)
    parser.add_argument("--port", type=int, default=5101)
    args = parser.parse_args()
    url = bench_database(10_000)
    crowd = make_crowd(url, buyers=1, seats_per_event=10, events=1, quantity=2)
    headers = {**crowd.headers[0], "Idempotency-Key": "bench-same-key", "Content-Length": "0"}
    ports = [args.port + n for n in range(args.masters)]
    servers = [
        gunicorn("wsgi:app", port, url, workers=4, JWT_SECRET_KEY=BENCH_JWT_SECRET)
        for port in ports
    ]
    for server in servers:
        server.__enter__()
    outcomes: Counter = Counter()
    order_ids = set()
    lock = threading.Lock()
    barrier = threading.Barrier(args.concurrency)

    def one(i: int) -> None:
        if i < args.concurrency:
            barrier.wait()
        conn = http.client.HTTPConnection("127.0.0.1", ports[i % len(ports)], timeout=60)
        conn.request("POST", "/api/cart/checkout", body=b"", headers=headers)
        response = conn.getresponse()
        body = response.read()
        replayed = response.getheader("Idempotent-Replayed") == "true"
        with lock:
            outcomes[f"{response.status}{' replayed' if replayed else ''}"] += 1
            if response.status == 201:
                import json

                order_ids.add(json.loads(body)["data"]["id"])

    try:
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(one, range(args.requests)))
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    db = conservation(url, crowd.tier_ids)
    server_errors = sum(n for outcome, n in outcomes.items() if outcome.startswith("5"))
    ok = db["orders"] == 1 and len(order_ids) == 1 and db["tickets"] == 2 and server_errors == 0
    print(
        f"{args.requests} checkouts with one Idempotency-Key over {args.masters} gunicorn master(s):"
    )
    print(
        f"answers {dict(sorted(outcomes.items()))}; orders in the database {db['orders']};"
        f" distinct order ids answered {len(order_ids)}; tickets {db['tickets']}; 5xx {server_errors}"
    )
    print("result: one order, every retry answered safely" if ok else "result: UNEXPECTED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
