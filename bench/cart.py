"""Add-to-cart cost in-process, and the hold drill: how many seats one client address can hold.

    python bench/cart.py [--adds 300] [--flood 1000] [--code DIR] [--calls]

In-process (Flask's test client, no HTTP server, so the figure is the app and its SQL): the
median and p90 of `POST /api/cart/items` answered with the cart (wall clock, PostgreSQL's work
included), the median CPU time of the app's process alone, and the SQL statements it sends, for
  signed-in, empty cart    one seat into the user's (emptied again between adds, untimed);
  signed-in, 19 lines      one more line into a cart that is one line short of the cap;
  guest, new cart          a guest's first add (each from its own client address).
Target (issue 12): at most 4 ms with the hold caps in place.

The drill then fires `--flood` adds from ONE client address (new guest carts and adds to its
existing ones, 1 to 10 seats each; rate limiting off, so only the business rules act) and
prints the seats that address holds afterwards (cap 20), then whether a buyer from another
address still buys. `flood()` is importable (bench/abuse.py can call it).

Everything runs on its own database `shop_bench_cart` (embedded server, or BENCH_DATABASE_URL's).
`--code DIR` measures another checkout's app (say, main's) with this same script and database:
run it and this checkout's turn about for a same-run before/after. `--calls` also prints the
Python function calls per add (cProfile over 20 more, untimed adds of each scenario): unlike the
times, a machine shared with other benchmarks does not change it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bench.common import import_shop_from_code_argument  # noqa: E402

import_shop_from_code_argument()

from sqlalchemy import event, text  # noqa: E402

FLOOD_ADDRESS = "203.0.113.66"
BUYER_ADDRESS = "198.51.100.7"


def bench_app():
    """The app on a freshly migrated `shop_bench_cart` database, rate limits off."""
    import flask_migrate

    from shop import create_app
    from shop.database import (
        embedded_server_url,
        ensure_database,
        libpq_url,
        normalize_database_url,
        with_database,
    )

    base = os.environ.get("BENCH_DATABASE_URL")
    if base:
        ensure_database(libpq_url(with_database(normalize_database_url(base), "postgres")), "x")
        url = with_database(normalize_database_url(base), "shop_bench_cart")
        ensure_database(libpq_url(with_database(url, "postgres")), "shop_bench_cart")
    else:
        url = embedded_server_url(ROOT / "instance", "shop_bench_cart")
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
    return app


def arrange(app, tiers: int = 21) -> tuple[list[int], str]:
    """An empty shop with one on-sale event of `tiers` roomy tiers and one customer: the tier
    ids and the customer's access token."""
    from flask_jwt_extended import create_access_token

    from shop.extensions import db
    from shop.models import Category, Event, TicketType, User, Venue
    from shop.services.passwords import hash_password

    with app.app_context():
        db.session.execute(
            text(
                "TRUNCATE ticket, order_item, customer_order, cart_item, cart, idempotency_key,"
                " revoked_token, ticket_type, event, venue, category, app_user"
                " RESTART IDENTITY CASCADE"
            )
        )
        category = Category(slug="bench", name="Bench")
        venue = Venue(name="Bench Hall", address="Benchvej 1", city="Copenhagen")
        starts = datetime.now(UTC) + timedelta(days=30)
        show = Event(
            title="Bench show",
            description="",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            status="published",
            currency="DKK",
            venue=venue,
            category=category,
        )
        db.session.add(show)
        db.session.flush()
        rows = [
            TicketType(
                event_id=show.id,
                name=f"Tier {n}",
                price=Decimal("100.00"),
                currency="DKK",
                capacity=1_000_000,
                max_per_order=100,
            )
            for n in range(tiers)
        ]
        db.session.add_all(rows)
        user = User(email="bench@example.com", name="Bench", password_hash=hash_password("x"))
        db.session.add(user)
        db.session.commit()
        return [tier.id for tier in rows], create_access_token(identity=str(user.id))


@contextmanager
def counting_statements(app):
    from shop.extensions import db

    counted: list[str] = []

    def record(conn, cursor, statement, *args):
        counted.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", record)


def calls_per_add(before, add, first: int, count: int = 20) -> float:
    """Python function calls per `add()` (cProfile), over `count` extra adds numbered from
    `first`: a figure of the app's work that a busy machine does not blur."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    for n in range(first, first + count):
        before(n)
        profile.enable()
        response = add(n)
        profile.disable()
        assert response.status_code == 201, response.get_data(as_text=True)
    return pstats.Stats(profile).total_calls / count


def timed_adds(app, client, label, count, before, add, calls: bool = False) -> None:
    """Run `before()` (untimed) then `add()` (timed, must answer 201) `count` times; with
    `calls`, first count the Python function calls of 20 more adds (not timed)."""
    per_add = f"  Python calls {calls_per_add(before, add, count):5.0f}" if calls else ""
    timings = []
    cpu = []
    statements = []
    for n in range(count):
        before(n)
        with counting_statements(app) as counted:
            started, cpu_started = time.perf_counter(), time.process_time()
            response = add(n)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        assert response.status_code == 201, response.get_data(as_text=True)
        statements.append(len(counted))
    timings.sort()
    print(
        f"{label:<26} median {statistics.median(timings):5.2f} ms"
        f"  p90 {timings[int(len(timings) * 0.9)]:5.2f} ms"
        f"  app CPU {statistics.median(cpu):5.2f} ms"
        f"  SQL statements {statistics.median(statements):.0f}{per_add}"
    )


def measure_adds(app, adds: int, calls: bool = False) -> None:
    tier_ids, token = arrange(app)
    client = app.test_client()
    signed_in = {"Authorization": f"Bearer {token}"}

    def add(tier_id, headers=None, address="127.0.0.1"):
        return client.post(
            "/api/cart/items",
            json={"ticketTypeId": tier_id, "quantity": 1},
            headers=headers or {},
            environ_base={"REMOTE_ADDR": address},
        )

    for _ in range(20):  # warm up: imports, compiled statements, connection pool
        add(tier_ids[0], signed_in)
        client.delete("/api/cart", headers=signed_in)

    timed_adds(
        app,
        client,
        "signed-in, empty cart",
        adds,
        lambda n: client.delete("/api/cart", headers=signed_in),
        lambda n: add(tier_ids[0], signed_in),
        calls,
    )
    client.delete("/api/cart", headers=signed_in)
    for tier_id in tier_ids[:19]:
        add(tier_id, signed_in)
    line_of_the_20th: list[int] = []

    def drop_20th(n):
        if line_of_the_20th:
            client.delete(f"/api/cart/items/{line_of_the_20th.pop()}", headers=signed_in)

    def add_20th(n):
        response = add(tier_ids[19], signed_in)
        line_of_the_20th.append(response.get_json()["data"]["items"][-1]["id"])
        return response

    timed_adds(app, client, "signed-in, 19 lines", adds, drop_20th, add_20th, calls)
    timed_adds(
        app,
        client,
        "guest, new cart",
        adds,
        lambda n: None,
        lambda n: add(tier_ids[0], address=f"10.{n // 250}.{n % 250}.1"),
        calls,
    )


def flood(app, adds: int, address: str = FLOOD_ADDRESS) -> dict:
    """`adds` guest adds from one client address, half into new guest carts and half into the
    last cart it got; then a buyer from another address adds, signs up and checks out.
    Returns the seats the flooding address holds, the statuses it got and the buyer's status."""
    from shop.extensions import db

    tier_ids, _ = arrange(app, tiers=1)
    with app.app_context():
        db.session.execute(text("UPDATE ticket_type SET capacity = 500"))
        db.session.commit()
    client = app.test_client()
    statuses: dict[int, int] = {}
    cart_token = None
    started = time.perf_counter()
    for n in range(adds):
        headers = {"X-Cart-Token": cart_token} if cart_token and n % 2 else {}
        response = client.post(
            "/api/cart/items",
            json={"ticketTypeId": tier_ids[0], "quantity": 1 + n % 10},
            headers=headers,
            environ_base={"REMOTE_ADDR": address},
        )
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code == 201:
            cart_token = response.headers["X-Cart-Token"]
    seconds = time.perf_counter() - started
    with app.app_context():
        held = db.session.scalar(
            text(
                "SELECT coalesce(sum(ci.quantity), 0) FROM cart_item ci JOIN cart c"
                " ON c.id = ci.cart_id WHERE c.status = 'active' AND c.user_id IS NULL"
                " AND c.hold_expires_at > now()"
            )
        )
    buyer = {"REMOTE_ADDR": BUYER_ADDRESS}
    first = client.post(
        "/api/cart/items",
        json={"ticketTypeId": tier_ids[0], "quantity": 2},
        environ_base=buyer,
    )
    bought = first.status_code
    if first.status_code == 201:
        guest = {"X-Cart-Token": first.headers["X-Cart-Token"]}
        session = client.post(
            "/api/auth/signup",
            json={"email": "late.buyer@example.com", "password": "Late-Buyer-2026", "name": "L"},
            headers=guest,
            environ_base=buyer,
        ).get_json()["data"]
        signed_in = {"Authorization": f"Bearer {session['accessToken']}"}
        bought = client.post(
            "/api/cart/checkout", headers=signed_in, environ_base=buyer
        ).status_code
    return {"held": held, "statuses": statuses, "buyer_checkout": bought, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adds", type=int, default=300, help="timed adds per scenario")
    parser.add_argument("--flood", type=int, default=1000, help="adds from one address")
    parser.add_argument("--code", type=Path, help="measure another checkout's app")
    parser.add_argument(
        "--calls", action="store_true", help="also Python function calls per add (cProfile)"
    )
    args = parser.parse_args()
    app = bench_app()
    code = args.code.resolve().name if args.code else ROOT.name
    print(f"add-to-cart in-process ({args.adds} adds each; {code})")
    measure_adds(app, args.adds, args.calls)
    result = flood(app, args.flood)
    print(
        f"drill: {args.flood} adds from one address in {result['seconds']:.1f} s:"
        f" it holds {result['held']} of 500 seats; statuses {dict(sorted(result['statuses'].items()))};"
        f" a buyer from another address: checkout {result['buyer_checkout']}"
    )


if __name__ == "__main__":
    main()
