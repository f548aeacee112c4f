"""Arrange and run a crowd of buyers: users with carts, signed tokens, concurrent checkouts.

Used by bench/oversell.py and bench/checkout.py. Users and carts are inserted in bulk with SQL
(signing up 200 people through Argon2 would measure password hashing, not checkout); their
holds have lapsed, so every buyer competes for the seats at checkout.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg

from shop.database import libpq_url

BENCH_JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256-signing"


@dataclass
class Crowd:
    headers: list[dict[str, str]]
    tier_ids: list[int]
    capacity: int


def reset_sales(url: str) -> None:
    """Forget earlier runs: orders, tickets, carts and bench users go; sold returns to 0."""
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(
            "TRUNCATE ticket, order_item, customer_order, cart_item, cart, idempotency_key CASCADE"
        )
        conn.execute("DELETE FROM app_user WHERE email LIKE 'bench-%@example.com'")
        conn.execute("DELETE FROM event WHERE title LIKE 'Bench event %'")


def bench_tiers(conn, events: int, capacity: int, title: str) -> list[int]:
    """`events` published events a month ahead, one ticket type of `capacity` seats each.
    Titles start with "Bench event", so reset_sales removes them and catalogue counts skip them."""
    venue, category = conn.execute(
        "SELECT (SELECT min(id) FROM venue), (SELECT min(id) FROM category)"
    ).fetchone()
    tier_ids = []
    for n in range(events):
        event_id = conn.execute(
            "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status, currency)"
            " VALUES (%s, now() + interval '30 days', now() + interval '30 days 3 hours', %s, %s,"
            " 'published', 'DKK') RETURNING id",
            (f"{title} {n}", venue, category),
        ).fetchone()[0]
        tier_ids.append(
            conn.execute(
                "INSERT INTO ticket_type (event_id, name, price, currency, capacity, max_per_order)"
                " VALUES (%s, 'Bench', 100, 'DKK', %s, 10) RETURNING id",
                (event_id, capacity),
            ).fetchone()[0]
        )
    return tier_ids


def make_crowd(
    url: str, buyers: int, seats_per_event: int, events: int, quantity: int = 1
) -> Crowd:
    """`buyers` users, each with a cart of `quantity` seats of one of `events` bench tiers that
    have `seats_per_event` seats each (buyers spread round-robin over the events)."""
    from flask_jwt_extended import create_access_token

    from shop import create_app

    reset_sales(url)
    with psycopg.connect(libpq_url(url)) as conn:
        tier_ids = bench_tiers(conn, events, seats_per_event, "Bench event")
        user_ids = [
            row[0]
            for row in conn.execute(
                "INSERT INTO app_user (email, password_hash, name)"
                " SELECT 'bench-' || g || '-' || md5(random()::text) || '@example.com', 'not-a-hash', 'Bench'"
                " FROM generate_series(1, %s) g RETURNING id",
                (buyers,),
            ).fetchall()
        ]
        for i, user_id in enumerate(user_ids):
            tier_id = tier_ids[i % len(tier_ids)]
            cart_id = conn.execute(
                "INSERT INTO cart (user_id, hold_expires_at) VALUES (%s, now() - interval '1 minute')"
                " RETURNING id",
                (user_id,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)"
                " SELECT %s, event_id, id, %s, price FROM ticket_type WHERE id = %s",
                (cart_id, quantity, tier_id),
            )
    app = create_app(
        "development", {"SQLALCHEMY_DATABASE_URI": url, "JWT_SECRET_KEY": BENCH_JWT_SECRET}
    )
    with app.app_context():
        headers = [
            {"Authorization": f"Bearer {create_access_token(identity=str(user_id))}"}
            for user_id in user_ids
        ]
        from shop.extensions import db

        db.engine.dispose()
    return Crowd(headers=headers, tier_ids=tier_ids, capacity=seats_per_event * events)


@dataclass
class Fired:
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    tickets_in_201s: int = 0
    seconds: float = 0.0
    # Seconds from the start until the last 201 arrived: how long the selling took, before the
    # buyers who came too late got their 409s.
    selling_seconds: float = 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def fire(port: int, path: str, crowd_headers: list[dict[str, str]], concurrency: int) -> Fired:
    """POST `path` once per buyer, `concurrency` at a time, all released together."""
    result = Fired()
    lock = threading.Lock()
    barrier = threading.Barrier(min(concurrency, len(crowd_headers)))

    def one(headers: dict[str, str], first_wave: bool) -> None:
        if first_wave:
            barrier.wait()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.perf_counter()
        conn.request("POST", path, body=b"", headers={**headers, "Content-Length": "0"})
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        conn.close()
        tickets = json.loads(body)["data"]["ticketCount"] if response.status == 201 else 0
        with lock:
            if response.status == 201:
                result.selling_seconds = time.perf_counter() - started_all
            result.statuses[response.status] += 1
            result.latencies_ms.append(elapsed)
            result.tickets_in_201s += tickets

    started_all = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda pair: one(pair[1], pair[0] < concurrency), enumerate(crowd_headers)))
    result.seconds = time.perf_counter() - started_all
    return result


def conservation(url: str, tier_ids: list[int]) -> dict[str, int]:
    """What the database says was sold, against what exists and what was issued."""
    with psycopg.connect(libpq_url(url)) as conn:
        capacity, sold = conn.execute(
            "SELECT sum(capacity), sum(sold) FROM ticket_type WHERE id = ANY(%s)", (tier_ids,)
        ).fetchone()
        tickets = conn.execute(
            "SELECT count(*) FROM ticket t JOIN order_item i ON i.id = t.order_item_id"
            " WHERE i.ticket_type_id = ANY(%s)",
            (tier_ids,),
        ).fetchone()[0]
        orders = conn.execute("SELECT count(*) FROM customer_order").fetchone()[0]
    return {
        "capacity": int(capacity),
        "sold": int(sold),
        "tickets": int(tickets),
        "orders": int(orders),
    }
