"""Does checkout oversell under real concurrency? And would this bench notice if it did?

    python bench/oversell.py [--buyers 300] [--seats 50] [--concurrency 32] [--masters 2]

Both variants serve HTTP from gunicorn (sync workers, 4 per master; with `--masters 2`, two
separate gunicorn masters on two ports share the database, as two instances behind a load
balancer would) and face the same crowd: `--buyers` signed-in users, each with one seat in
their cart, for `--seats` seats. Conservation is checked in the database afterwards:
tickets issued = seats sold = tickets in 201 answers, and sold <= capacity.

1. shop: POST /api/cart/checkout (the real route).
2. naive: a read-check-write checkout defined in this file (never in the app): it reads `sold`,
   checks it, and writes `sold = <value read> + n`. It must be caught overselling.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt
import psycopg
from flask import Flask, request

from bench.buyers import BENCH_JWT_SECRET, conservation, fire, make_crowd
from bench.common import bench_database, gunicorn
from shop.database import libpq_url

naive_app = Flask(__name__)


@naive_app.get("/api/health")
def naive_health():
    return {"data": {"status": "ok"}}


@naive_app.post("/naive/checkout")
def naive_checkout():
    """Read-check-write without locks: the classic oversell bug, kept here as a control."""
    import os

    token = request.headers["Authorization"].split()[1]
    user_id = int(jwt.decode(token, BENCH_JWT_SECRET, algorithms=["HS256"])["sub"])
    with psycopg.connect(libpq_url(os.environ["DATABASE_URL"])) as conn:
        cart_id = conn.execute(
            "SELECT id FROM cart WHERE user_id = %s AND status = 'active'", (user_id,)
        ).fetchone()[0]
        lines = conn.execute(
            "SELECT ticket_type_id, event_id, quantity FROM cart_item WHERE cart_id = %s",
            (cart_id,),
        ).fetchall()
        for tier_id, _event_id, quantity in lines:
            sold, capacity = conn.execute(
                "SELECT sold, capacity FROM ticket_type WHERE id = %s", (tier_id,)
            ).fetchone()
            if sold + quantity > capacity:
                return {"code": "insufficient_availability"}, 409
            conn.execute(
                "UPDATE ticket_type SET sold = %s WHERE id = %s", (sold + quantity, tier_id)
            )
        order_id = conn.execute(
            "INSERT INTO customer_order (user_id, cart_id, total, currency, confirmed_at)"
            " VALUES (%s, %s, 0, 'DKK', now()) RETURNING id",
            (user_id, cart_id),
        ).fetchone()[0]
        for tier_id, event_id, quantity in lines:
            item_id = conn.execute(
                "INSERT INTO order_item (order_id, event_id, ticket_type_id, event_title,"
                " event_starts_at, ticket_type_name, unit_price, quantity, line_total)"
                " VALUES (%s, %s, %s, 'x', now(), 'x', 0, %s, 0) RETURNING id",
                (order_id, event_id, tier_id, quantity),
            ).fetchone()[0]
            for _ in range(quantity):
                code = base64.b32encode(secrets.token_bytes(20)).decode()
                conn.execute(
                    "INSERT INTO ticket (order_item_id, code) VALUES (%s, %s)", (item_id, code)
                )
        conn.execute("UPDATE cart SET status = 'checked_out' WHERE id = %s", (cart_id,))
    return {"data": {"ticketCount": sum(q for _, _, q in lines)}}, 201


def run(variant: str, app: str, path: str, url: str, args) -> dict:
    crowd = make_crowd(url, args.buyers, args.seats, events=1)
    ports = [args.port + n for n in range(args.masters)]
    servers = [
        gunicorn(app, port, url, workers=4, JWT_SECRET_KEY=BENCH_JWT_SECRET) for port in ports
    ]
    for server in servers:
        server.__enter__()
    try:
        results = [None] * len(ports)

        def drive(i: int) -> None:
            share = crowd.headers[i :: len(ports)]
            results[i] = fire(ports[i], path, share, max(1, args.concurrency // len(ports)))

        threads = [threading.Thread(target=drive, args=(i,)) for i in range(len(ports))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    statuses = sum((r.statuses for r in results), start=__import__("collections").Counter())
    in_201s = sum(r.tickets_in_201s for r in results)
    db = conservation(url, crowd.tier_ids)
    oversold = db["tickets"] - db["capacity"]
    conserved = db["sold"] == db["tickets"] == in_201s and db["sold"] <= db["capacity"]
    print(
        f"{variant:<7} statuses {dict(sorted(statuses.items()))}  capacity {db['capacity']}  sold {db['sold']}"
        f"  tickets {db['tickets']}  tickets in 201s {in_201s}  orders {db['orders']}"
        f"  oversold {max(oversold, 0)}  conservation {'holds' if conserved else 'BROKEN'}"
    )
    return {
        "conserved": conserved,
        "oversold": oversold,
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=300)
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--masters", type=int, default=2, help="separate gunicorn masters (ports)")
    parser.add_argument("--port", type=int, default=5095)
    args = parser.parse_args()
    url = bench_database(10_000)
    print(
        f"{args.buyers} buyers, {args.seats} seats, {args.concurrency} at a time,"
        f" {args.masters} gunicorn master(s) x 4 sync workers"
    )
    shop = run("shop", "wsgi:app", "/api/cart/checkout", url, args)
    naive = run("naive", "bench.oversell:naive_app", "/naive/checkout", url, args)
    ok = shop["conserved"] and shop["server_errors"] == 0 and not naive["conserved"]
    print(
        "\nresult: shop never oversold; the naive control was caught overselling"
        if ok
        else "\nresult: UNEXPECTED (see above)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
