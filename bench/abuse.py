"""On-sale day under attack: what one hostile client can do to a running server (issue 11).

    python bench/abuse.py [--seconds 20] [--adds 200] [--port 5460]

Every figure comes from real gunicorn masters on loopback, on a bench database (1 000 events),
with "before" and "after" measured in the same run:

1. Seats one address can hold: guest adds (10 seats each, a new guest cart every time) fired
   from one address at an event with 500 seats, as configured (per-address caps on the branch
   that has them). Then whether a buyer from another address can still add a seat.
2. Slow and idle clients: `/api/health` and `/api/events` p99 while 200 idle sockets and 50
   sockets sending headers one byte a second attack 2 workers; sync workers serving wsgi:app
   (before), gthread workers with 32 threads each (the option considered), and
   gunicorn.conf.py as it is (asgi:app, after).
3. Throughput on a mixed read workload (health, listing pages, detail, categories, venues) with
   wrk, same two settings served side by side, medians of 5 interleaved runs: the new settings must stay within
   10 % of sync workers.
4. Login attempts allowed per minute ("10 per minute") across two masters with two workers each:
   counters in each worker's memory (`memory://`, before) against PostgreSQL (`database://`);
   and 40 logins that each claim another address in X-Forwarded-For, with the header trusted
   from anyone (before) and with no proxy configured (after).
5. What a login costs: one Argon2id verification with the production parameters, and the
   median of other requests while 8 threads flood login from 8 addresses.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.buyers import bench_tiers, reset_sales
from bench.common import ROOT, WRK_SCRIPT, bench_database, ensure_wrk, python_env, wait_for
from bench.slowclients import attack
from shop.database import libpq_url

EVENTS = 1000
ROUNDS = 5
BEFORE = ["--worker-class", "sync", "wsgi:app"]  # what gunicorn.conf.py ran before issue 11
AFTER: list[str] = []  # gunicorn.conf.py as it is
# The option NOTES and gunicorn's docs suggest first: threads park idle keep-alive connections.
GTHREAD = ["--worker-class", "gthread", "--threads", "32", "wsgi:app"]


@contextlib.contextmanager
def serve(port: int, url: str, args: list[str], workers: int = 2, **env: str):
    environment = python_env(
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        DATABASE_URL=url,
        SHOP_INSTANCE_PATH=str(ROOT / "instance"),
        **env,
    )
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        try:
            wait_for(f"http://127.0.0.1:{port}/api/health")
        except RuntimeError:
            log.seek(0)
            print(log.read()[-3000:], file=sys.stderr)
            raise
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        os.unlink(log.name)


def request(port: int, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = json.dumps(body) if body is not None else None
    connection.request(
        method, path, payload, {"Content-Type": "application/json", **(headers or {})}
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, (json.loads(raw) if raw else {})


# 1. Seats one address can hold ---------------------------------------------------------------


def seats_one_address_holds(url: str, port: int, adds: int) -> None:
    # One proxy hop trusted, so X-Forwarded-For tells the attacker and the buyer apart.
    with serve(port, url, AFTER, RATELIMIT_ENABLED="true", PROXY_FIX_X_FOR="1"):
        hold_flood(url, port, adds)


def hold_flood(url: str, port: int, adds: int) -> None:
    reset_sales(url)
    with psycopg.connect(libpq_url(url)) as conn:
        tier_id = bench_tiers(conn, 1, 500, "Bench event hold")[0]
        conn.execute("UPDATE ticket_type SET max_per_order = 10 WHERE id = %s", (tier_id,))
    statuses: Counter[int] = Counter()
    held = 0
    lock = threading.Lock()

    def add(_n: int) -> None:
        nonlocal held
        status, body = request(
            port,
            "POST",
            "/api/cart/items",
            {"ticketTypeId": tier_id, "quantity": 10},
            {"X-Forwarded-For": "203.0.113.7"},
        )
        with lock:
            statuses[status] += 1
            if status == 201:
                held += body["data"]["totalQuantity"]

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(adds)))
    seconds = time.perf_counter() - started
    other, _ = request(
        port,
        "POST",
        "/api/cart/items",
        {"ticketTypeId": tier_id, "quantity": 1},
        {"X-Forwarded-For": "198.51.100.9"},
    )
    print(
        f"\n1. seats one address can hold: {held} of 500 after {adds} guest adds of 10 seats"
        f" in {seconds:.1f} s (statuses {dict(sorted(statuses.items()))});"
        f" a buyer from another address then gets {other}"
    )


# 2. and 3. Slow clients and throughput ------------------------------------------------------

MIX = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def slow_client_attack(url: str, port: int, seconds: float) -> None:
    print(
        f"\n2. p99 under 200 idle + 50 slow-header sockets, 2 workers, {seconds:.0f} s each"
        " (probes every 0.2 s, 5 s timeout; a timeout counts as 5 s)"
    )
    print(f"{'settings':<36} {'path':<14} {'probes':>6} {'failed':>6} {'p50 s':>7} {'p99 s':>7}")
    for name, args in (
        ("before: sync workers (wsgi:app)", BEFORE),
        ("option: gthread, 32 threads each", GTHREAD),
        ("after: gunicorn.conf.py", AFTER),
    ):
        with serve(port, url, args):
            for probe in attack(port, seconds=seconds):
                print(
                    f"{name:<36} {probe.path:<14} {len(probe.latencies):>6} {probe.failures:>6}"
                    f" {probe.p50():>7.3f} {probe.p99():>7.3f}"
                )


def mixed_read_throughput(url: str, port: int) -> None:
    with psycopg.connect(libpq_url(url)) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM event WHERE status = 'published' AND starts_at > now()"
                " AND title NOT LIKE 'Bench event %' ORDER BY id LIMIT 3"
            )
        ]
    paths = [
        "/api/health",
        "/api/events",
        "/api/events?page=2",
        "/api/events?sort=price",
        "/api/events?city=Aarhus",
        "/api/categories",
        "/api/venues",
        *[f"/api/events/{event_id}" for event_id in ids],
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(MIX % ", ".join(f'"{p}"' for p in paths) + WRK_SCRIPT)
    wrk = ensure_wrk()
    results: dict[str, list[tuple[float, float, int]]] = {"before": [], "after": []}
    with (
        serve(port, url, BEFORE) as before,
        serve(port + 1, url, AFTER) as after,
    ):
        for _round in range(ROUNDS):
            for name, target in (("before", before), ("after", after)):
                output = subprocess.run(
                    [wrk, "-t2", "-c16", "-d5s", "-s", script.name, f"http://127.0.0.1:{target}"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                stats = json.loads(output.strip().splitlines()[-1])
                results[name].append(
                    (
                        stats["requests"] / (stats["duration_us"] / 1e6),
                        stats["p99_us"] / 1000,
                        stats["errors"] + stats["non2xx"],
                    )
                )
    os.unlink(script.name)
    print(
        f"\n3. mixed read workload (wrk -t2 -c16, {ROUNDS} x 5 s interleaved, as configured,"
        " 2 workers each)"
    )
    medians = {}
    for name, runs in results.items():
        medians[name] = statistics.median(run[0] for run in runs)
        print(
            f"{name:<7} {medians[name]:>7.0f} req/s (runs {', '.join(f'{r[0]:.0f}' for r in runs)})"
            f"  p99 {statistics.median(r[1] for r in runs):.1f} ms"
            f"  errors {sum(r[2] for r in runs)}"
        )
    print(f"after / before: {medians['after'] / medians['before']:.2f} x (target >= 0.90)")


# 4. Login attempts across two masters -------------------------------------------------------


def logins_allowed_across_two_masters(url: str, port: int) -> None:
    print("\n4. logins allowed with RATELIMIT_AUTH='10 per minute', two masters x two workers")
    for name, storage in (
        ("before: memory://", "memory://"),
        ("after: database://", "database://"),
    ):
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute("DELETE FROM rate_limit_hit")
            conn.execute("DELETE FROM rate_limit_counter")
        limits = {
            "RATELIMIT_ENABLED": "true",
            "RATELIMIT_STORAGE_URI": storage,
            "RATELIMIT_AUTH": "10 per minute",
            "RATELIMIT_LOGIN_ACCOUNT": "1000 per minute",
        }
        with (
            serve(port, url, AFTER, **limits) as first,
            serve(port + 1, url, AFTER, **limits) as second,
        ):
            ports = [first, second] * 30
            with ThreadPoolExecutor(8) as pool:
                statuses = list(
                    pool.map(
                        lambda pair: request(
                            pair[1],
                            "POST",
                            "/api/auth/login",
                            {"email": f"nobody{pair[0]}@example.com", "password": "Wrong-Pass-1"},
                        )[0],
                        enumerate(ports),
                    )
                )
        counts = Counter(statuses)
        print(
            f"{name:<22} {len(statuses) - counts[429]:>3} of {len(statuses)} attempts answered"
            f" within the minute (statuses {dict(sorted(counts.items()))})"
        )


def forwarded_for_bypass(url: str, port: int) -> None:
    print("\n4b. 40 logins, each with a different X-Forwarded-For, RATELIMIT_AUTH='10 per minute'")
    for name, hops in (("trusting one hop from anyone", "1"), ("PROXY_FIX_X_FOR=0 (default)", "0")):
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute("DELETE FROM rate_limit_hit")
        limits = {
            "RATELIMIT_ENABLED": "true",
            "RATELIMIT_AUTH": "10 per minute",
            "PROXY_FIX_X_FOR": hops,
        }
        with serve(port, url, AFTER, **limits):
            statuses = Counter(
                request(
                    port,
                    "POST",
                    "/api/auth/login",
                    {"email": f"x{n}@example.com", "password": "Wrong-Pass-1"},
                    {"X-Forwarded-For": f"192.0.2.{n}"},
                )[0]
                for n in range(40)
            )
        print(f"   {name:<30} statuses {dict(sorted(statuses.items()))}")


# 5. What a login costs ------------------------------------------------------------------------


def login_cost(url: str, port: int) -> None:
    from argon2 import PasswordHasher

    from config import Config

    hasher = PasswordHasher(
        time_cost=Config.ARGON2_TIME_COST,
        memory_cost=Config.ARGON2_MEMORY_KIB,
        parallelism=Config.ARGON2_PARALLELISM,
    )
    stored = hasher.hash("Correct-Horse-9")
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        hasher.verify(stored, "Correct-Horse-9")
        timings.append((time.perf_counter() - started) * 1000)
    print(
        f"\n5. one Argon2id verification (t={Config.ARGON2_TIME_COST},"
        f" m={Config.ARGON2_MEMORY_KIB} KiB, p={Config.ARGON2_PARALLELISM}):"
        f" median {statistics.median(timings):.0f} ms"
    )
    for name, slots in (("PASSWORD_HASH_SLOTS=0 (default)", "0"), ("PASSWORD_HASH_SLOTS=1", "1")):
        quiet, flooded, answers = login_flood(url, port, slots)
        print(
            f"   {name:<32} other requests' median {quiet:.1f} ms quiet, {flooded:.1f} ms while"
            f" 8 threads flood login from ever-new addresses; login answers {answers}"
        )


def login_flood(url: str, port: int, slots: str) -> tuple[float, float, dict[int, int]]:
    limits = {
        "RATELIMIT_ENABLED": "true",
        "PROXY_FIX_X_FOR": "1",
        "RATELIMIT_AUTH": "10 per minute",
        "PASSWORD_HASH_SLOTS": slots,
    }
    answers: Counter[int] = Counter()
    with serve(port, url, AFTER, **limits):

        def probe_median(seconds: float) -> float:
            latencies = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                started = time.perf_counter()
                request(port, "GET", "/api/categories")
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.05)
            return statistics.median(latencies)

        quiet = probe_median(5)
        stop = threading.Event()

        def flood(address: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                status, _ = request(
                    port,
                    "POST",
                    "/api/auth/login",
                    {"email": f"f{address}-{n}@example.com", "password": "Wrong-Pass-1"},
                    {"X-Forwarded-For": f"10.{address}.{n // 250 % 250}.{n % 250}"},
                )
                answers[status] += 1

        threads = [threading.Thread(target=flood, args=(a,)) for a in range(8)]
        for thread in threads:
            thread.start()
        flooded = probe_median(10)
        stop.set()
        for thread in threads:
            thread.join()
    return quiet, flooded, dict(sorted(answers.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--adds", type=int, default=200)
    parser.add_argument("--port", type=int, default=5460)
    parser.add_argument(
        "--only",
        choices=["holds", "slow", "throughput", "logins", "spoofing", "cost"],
        default=None,
    )
    args = parser.parse_args()
    url = bench_database(EVENTS)
    steps = {
        "holds": lambda: seats_one_address_holds(url, args.port, args.adds),
        "slow": lambda: slow_client_attack(url, args.port, args.seconds),
        "throughput": lambda: mixed_read_throughput(url, args.port),
        "logins": lambda: logins_allowed_across_two_masters(url, args.port),
        "spoofing": lambda: forwarded_for_bypass(url, args.port),
        "cost": lambda: login_cost(url, args.port),
    }
    for name, step in steps.items():
        if args.only in (None, name):
            step()


if __name__ == "__main__":
    main()
