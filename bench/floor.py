"""What the stack and this machine allow the browse and search mixes, beside hello, in one run.

    python bench/floor.py [--events 10000[,100000]] [--runs 3] [--seconds 5] [--port 5280]
                          [--sample 5000] [--mixes browse,search]

Issue 12 asks for the browse and search mixes (bench/mixes.py) at >= 0.35 x hello. This bench
measures, in the same interleaved rounds and beside the same hello, how far the fixed stack
(Flask, psycopg 3, gunicorn 4 sync workers, PostgreSQL) and the SQL the shop sends today can go:

  (a) pgbench: PostgreSQL alone running the shop's own statements for a sample of the mix's
      URLs (--sample of them; `bench.floor_sql` builds each URL's SQL and values with the
      shop's code), prepared, with `SET`/`RESET plan_cache_mode` around those the shop plans
      with their values, 16 clients, 2 threads: statements (URLs) per second and PostgreSQL's
      CPU per statement;
  (b) a bare Flask + psycopg app (bench/floor_app.py: no flask-smorest, hooks, limiter or ETag)
      answering the same URLs with the same statements, served like the shop;
  (c) the same bare app running a trivial page statement (20 events by an index, no count, no
      seats left: the issue's "bare Flask + psycopg page query" reference);
  (d) the shop itself on the same URLs (as bench/run_all.py measures it);
  (e) the bare app sending a body of the mix's mean size without any SQL (the stack's floor
      for such an answer).

wrk -t2 -c16 drives hello, (b), (c) and (d); each workload runs --seconds per round, --runs
rounds interleaved, figures are medians. CPU per request is read from /proc for the gunicorn
processes (app µs), PostgreSQL's processes of this checkout's server (db µs) and the load
generator (wrk or pgbench: load µs). "machine µs" is what the 2 cores give each request at that
throughput (cores / req/s): all CPU, spent or idle, of everything on the machine.

pgbench runs in its simple protocol with SQL-level `PREPARE` once per connection and
`EXECUTE name(values)` per URL: its extended protocol (-M prepared) would read the `:MI` of the
shop's `'HH24:MI:SS'` format as a pgbench variable. A prepared statement is planned the same
way either way (PostgreSQL's plan cache); `EXECUTE` adds parsing a one-line statement, a few
µs. The URL is drawn at random per transaction: pgbench draws one of up to 128 scripts (the
sample's URLs grouped by statement, weighted by their number), the script one of its URLs by a
binary tree of `\\if`s (no lookup query). The first seconds of each pgbench run (new connections prepare and
plan, as a worker does once in its life) are left out: PostgreSQL's CPU and the transactions
are counted over a window after --warmup seconds, from pgbench's per-second log.

Finally the arithmetic: what 0.35 x hello allows per request, and each mix's request built up
from hello: (e) a body of its size (the stack's floor), (b) running the shop's statement, (d)
the shop's own layers, in machine µs (cores / req/s: moves with whatever else runs) and in own
CPU µs (app + db + load: what "x hello by CPU" compares, the ratio on cores nobody else uses).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench.common import (
    bench_database,
    cpu_seconds,
    gunicorn,
    postgres_processes,
    wrk_run,
)
from bench.floor_app import CUSTOM_PLANS_OFF, CUSTOM_PLANS_ON, TRIVIAL_PAGE
from bench.floor_sql import listing_statement
from bench.mixes import browse_paths, search_paths
from shop.database import embedded_bin, libpq_url

TARGET = 0.35  # issue 12: browse and search mixes at >= 0.35 x hello
MIXES = {"browse": browse_paths, "search": search_paths}
TRIVIAL_PAGES = 5  # the trivial page statement cycles through pages 1-5
CORES = psutil.cpu_count()


@dataclass
class Figures:
    """One measurement: throughput, latency and CPU µs per request (or statement)."""

    rps: float
    p50_ms: float
    p99_ms: float
    app_us: float
    db_us: float
    load_us: float
    # The whole machine, every process (other developers' too): busy CPU µs per request and
    # the share of the cores' time left idle during the run.
    busy_us: float
    idle: float


# --- pgbench ---------------------------------------------------------------------------------


def sql_literal(value) -> str:
    """A value as a SQL literal for `EXECUTE name(...)` (ints, amounts and words)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


# pgbench takes at most 128 scripts (-f); each gets a share of the sample.
MAX_SCRIPTS = 128


@dataclass
class Script:
    """A pgbench script, its weight (how many of the sample's URLs it holds) and the name of
    the statement it prepares."""

    text: str
    weight: int
    prepared: str


def pgbench_scripts(paths: list[str]) -> list[Script]:
    """pgbench scripts that run, per transaction, what the shop sends for one of `paths`
    (drawn at random, each as likely): `SET plan_cache_mode` where the shop sets it, the
    listing statement (`EXECUTE` of the same SQL, prepared once per connection), `RESET`.

    The prepared statements' text is exactly what PostgreSQL receives from the shop (psycopg's
    `$n` form). pgbench replaces `:name` with a variable's value in its simple protocol only
    when the variable exists, so the SQL's own `:MI` and `::INTEGER` pass through untouched
    (its variables are named `floor_*`).

    Why many scripts: pgbench skips the commands of an `\\if` branch not taken one by one, so
    a script's cost per transaction grows with its length (one script of 5 000 URLs cost
    pgbench ~290 µs of CPU a transaction, on the cores PostgreSQL needs). The URLs are grouped
    by statement and cut into scripts of a few dozen; pgbench draws a script by weight, the
    script a URL: every URL of the sample as likely as in one script. Each script prepares
    only its own statement."""
    by_statement: dict[bytes, list[list[str]]] = {}
    for path in paths:
        statement = listing_statement(dict(parse_qsl(urlsplit(path).query)))
        sql, values = statement.numbered()
        requests = by_statement.setdefault(sql, [])
        name = f"floor_{list(by_statement).index(sql)}"
        execute = f"EXECUTE {name}({', '.join(sql_literal(value) for value in values)});"
        if statement.custom_plan:
            requests.append(
                [f"{CUSTOM_PLANS_ON.decode()};", execute, f"{CUSTOM_PLANS_OFF.decode()};"]
            )
        else:
            requests.append([execute])
    per_script = math.ceil(len(paths) / (MAX_SCRIPTS - len(by_statement)))
    scripts = []
    for number, (sql, requests) in enumerate(by_statement.items()):
        name = f"floor_{number}"
        for first in range(0, len(requests), per_script):
            chunk = requests[first : first + per_script]
            scripts.append(Script(script_around(name, sql, chunk), len(chunk), name))
    return scripts


def trivial_scripts(pages: int = TRIVIAL_PAGES) -> list[Script]:
    """pgbench's version of the bare app's trivial page: pages 1..`pages` at random."""
    requests = [[f"EXECUTE floor_page({(page - 1) * 20});"] for page in range(1, pages + 1)]
    return [Script(script_around("floor_page", TRIVIAL_PAGE, requests), pages, "floor_page")]


def script_around(name: str, sql: bytes, requests: list[list[str]]) -> str:
    """Prepare `sql` as `name` once per connection (`:name_ready`, 0 for every client by `-D`
    until this sets it), then one of `requests` at random per transaction, found by a binary
    tree of `\\if`s (instead of a lookup query to PostgreSQL)."""

    def tree(low: int, high: int) -> list[str]:
        if low == high:
            return requests[low]
        middle = (low + high) // 2
        return [
            f"\\if :floor_request <= {middle}",
            *tree(low, middle),
            "\\else",
            *tree(middle + 1, high),
            "\\endif",
        ]

    return "\n".join(
        [
            f"\\if :{name}_ready = 0",
            f"PREPARE {name} AS {sql.decode()};",
            f"\\set {name}_ready 1",
            "\\endif",
            f"\\set floor_request random(0, {len(requests) - 1})",
            *tree(0, len(requests) - 1),
            "",
        ]
    )


def pgbench_run(url: str, scripts: list[Script], seconds: int, warmup: int) -> Figures:
    """pgbench -c16 -j2 on `scripts`; transactions and CPU counted over `seconds` after
    `warmup` seconds (the backends are alive then, so their CPU can be read)."""
    with tempfile.TemporaryDirectory() as work:
        files = []
        for number, script in enumerate(scripts):
            path = Path(work, f"floor_{number}.sql")
            path.write_text(script.text)
            files += ["-f", f"{path}@{script.weight}"]
        ready = sorted({f"{script.prepared}_ready=0" for script in scripts})
        command = [
            embedded_bin("pgbench"),
            "-n",
            "-M",
            "simple",
            "-c",
            "16",
            "-j",
            "2",
            "-T",
            str(warmup + seconds + 2),
            *(argument for variable in ready for argument in ("-D", variable)),
            *files,
            "-l",
            "--aggregate-interval=1",
            "--log-prefix",
            str(Path(work, "log")),
            libpq_url(url),
        ]
        process = subprocess.Popen(
            command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        client = psutil.Process(process.pid)
        # Whole seconds, to line up with pgbench's per-second log intervals.
        start = math.ceil(time.time() + warmup)
        sleep_until(start)
        db_before, load_before = postgres_cpu(), cpu_seconds([client])
        machine_before = psutil.cpu_times()
        sleep_until(start + seconds)
        db_after, load_after = postgres_cpu(), cpu_seconds([client])
        machine_after = psutil.cpu_times()
        _out, err = process.communicate()
        if process.returncode:
            raise RuntimeError(f"pgbench failed: {err[-3000:]}")
        transactions, latency_us, latencies = 0, 0.0, []
        for log in glob.glob(str(Path(work, "log.*"))):
            for line in Path(log).read_text().splitlines():
                fields = line.split()
                if start <= int(fields[0]) < start + seconds:
                    count, summed = int(fields[1]), float(fields[2])
                    transactions += count
                    latency_us += summed
                    if count:
                        latencies.append(float(fields[5]))  # max latency of the interval
    transactions = max(transactions, 1)
    db = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in db_after.items())
    mean_ms = latency_us / transactions / 1000
    return Figures(
        rps=transactions / seconds,
        p50_ms=mean_ms,  # pgbench's log gives the mean (shown in the p50 column, marked)
        p99_ms=max(latencies, default=0) / 1000,  # the worst latency seen (marked)
        app_us=0.0,
        db_us=db / transactions * 1e6,
        load_us=(load_after - load_before) / transactions * 1e6,
        **machine_share(machine_before, machine_after, transactions),
    )


def machine_share(before, after, requests: int) -> dict[str, float]:
    """Busy CPU µs of the whole machine per request, and the idle share of the cores' time,
    between two `psutil.cpu_times()`."""

    def idle(times) -> float:
        return times.idle + getattr(times, "iowait", 0.0)

    def elapsed(times) -> float:  # (guest time is counted in user time already)
        return sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)

    total = elapsed(after) - elapsed(before)
    idle_seconds = idle(after) - idle(before)
    return {
        "busy_us": (total - idle_seconds) / max(requests, 1) * 1e6,
        "idle": idle_seconds / total if total else 0.0,
    }


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def postgres_cpu() -> dict[int, float]:
    """CPU seconds so far per process of this checkout's PostgreSQL (pgbench's backends start
    with the run, so per pid)."""
    return {process.pid: cpu_seconds([process]) for process in postgres_processes()}


# --- wrk -------------------------------------------------------------------------------------


def wrk_figures(port: int, master, paths: list[str] | None, seconds: int) -> Figures:
    """bench.common.wrk_run, plus wrk's own CPU (a child process of this one, so it is in this
    process's children's rusage once it has exited)."""
    before, machine_before = resource.getrusage(resource.RUSAGE_CHILDREN), psutil.cpu_times()
    run = wrk_run(f"http://127.0.0.1:{port}/", master, seconds=seconds, paths=paths)
    after, machine_after = resource.getrusage(resource.RUSAGE_CHILDREN), psutil.cpu_times()
    load = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if run.errors or run.non2xx:
        raise RuntimeError(f"port {port}: {run.errors} errors, {run.non2xx} non-2xx answers")
    return Figures(
        rps=run.rps,
        p50_ms=run.p50_ms,
        p99_ms=run.p99_ms,
        app_us=run.app_cpu_us,
        db_us=run.db_cpu_us,
        load_us=load / max(run.requests, 1) * 1e6,
        **machine_share(machine_before, machine_after, run.requests),
    )


def mean_body_size(port: int, paths: list[str], count: int = 300) -> int:
    """The mean length of the answers to `count` of `paths` (spread over the list)."""
    step = max(1, len(paths) // count)
    sizes = []
    for path in paths[::step][:count]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as answer:
            sizes.append(len(answer.read()))
    return round(statistics.mean(sizes))


def median(runs: list[Figures]) -> Figures:
    return Figures(
        *(statistics.median(getattr(run, name) for run in runs) for name in Figures.__annotations__)
    )


# --- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", default="10000", help="comma-separated: 10000, 100000")
    parser.add_argument("--mixes", default="browse,search")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3, help="pgbench seconds not counted")
    parser.add_argument("--sample", type=int, default=5000, help="URLs of each mix in pgbench")
    parser.add_argument("--port", type=int, default=5280, help="first port; 1 + 2 per size")
    args = parser.parse_args()
    sizes = [int(size) for size in args.events.split(",")]
    mixes = args.mixes.split(",")
    if {*mixes} - {*MIXES}:
        parser.error(f"--mixes: {', '.join(MIXES)}")
    started, load_before = time.time(), os.getloadavg()
    paths = {mix: MIXES[mix]() for mix in mixes}
    samples = {mix: random.Random(12).sample(paths[mix], args.sample) for mix in mixes}
    scripts = {mix: pgbench_scripts(samples[mix]) for mix in mixes}
    scripts["trivial page"] = trivial_scripts()
    databases = {size: bench_database(size) for size in sizes}

    # (label, kind, size, mix): kind "hello", "shop", "bare", "trivial" (bare app's /page),
    # "pgbench" (a mix or the trivial page)
    workloads: list[tuple[str, str, int, str]] = [("hello", "hello", 0, "")]
    for size in sizes:
        tag = f"{size // 1000}k"
        for mix in mixes:
            workloads += [
                (f"{mix} {tag}: (d) shop", "shop", size, mix),
                (f"{mix} {tag}: (b) bare app", "bare", size, mix),
                (f"{mix} {tag}: (a) pgbench", "pgbench", size, mix),
                (f"{mix} {tag}: (e) body, no SQL", "body", size, mix),
            ]
        workloads += [
            (f"trivial page {tag}: (c) bare app", "trivial", size, ""),
            (f"trivial page {tag}: pgbench", "pgbench", size, "trivial page"),
        ]
    trivial_paths = [f"/page?page={page}" for page in range(1, TRIVIAL_PAGES + 1)]

    ports = {"hello": args.port}
    for index, size in enumerate(sizes):
        ports[f"shop {size}"] = args.port + 1 + 2 * index
        ports[f"bare {size}"] = args.port + 2 + 2 * index
    runs: dict[str, list[Figures]] = {label: [] for label, *_ in workloads}
    with contextlib.ExitStack() as stack:
        masters = {"hello": stack.enter_context(gunicorn("bench.hello_app:app", ports["hello"]))}
        for size in sizes:
            masters[f"shop {size}"] = stack.enter_context(
                gunicorn("wsgi:app", ports[f"shop {size}"], databases[size])
            )
            masters[f"bare {size}"] = stack.enter_context(
                gunicorn(
                    "bench.floor_app:app",
                    ports[f"bare {size}"],
                    FLOOR_DATABASE_URL=libpq_url(databases[size]),
                )
            )

        # The mean size of each mix's answers, for its body-only workload (e).
        body_paths = {
            (size, mix): [f"/body?bytes={mean_body_size(ports[f'bare {size}'], paths[mix])}"]
            for size in sizes
            for mix in mixes
        }

        def measure(kind: str, size: int, mix: str, seconds: int) -> Figures:
            if kind == "pgbench":
                return pgbench_run(databases[size], scripts[mix], seconds, args.warmup)
            server = (
                "hello" if kind == "hello" else f"{'shop' if kind == 'shop' else 'bare'} {size}"
            )
            chosen = {
                "hello": None,
                "trivial": trivial_paths,
                "body": body_paths.get((size, mix)),
            }.get(kind, paths.get(mix))
            return wrk_figures(ports[server], masters[server], chosen, seconds)

        # Warm up every worker and its connection; the mixes longer: each of the shop's four
        # workers compiles each of the mix's ~30 statements once (tens of ms each), and
        # psycopg prepares a statement on its 5th run on a connection.
        for _label, kind, size, mix in workloads:
            if kind != "pgbench":
                measure(kind, size, mix, 3 if kind in ("shop", "bare") else 1)
        for _ in range(args.runs):
            for label, kind, size, mix in workloads:
                runs[label].append(measure(kind, size, mix, args.seconds))
    load = os.getloadavg()
    figures = {label: median(measured) for label, measured in runs.items()}
    report(figures, workloads, args, (load_before, load), time.time() - started)


def own_cpu(figure: Figures) -> float:
    """CPU µs per request of everything the workload runs: app, PostgreSQL, load generator."""
    return figure.app_us + figure.db_us + figure.load_us


def report(figures: dict[str, Figures], workloads, args, loads, elapsed: float) -> None:
    hello = figures["hello"]
    print(
        f"\nthe floor under the catalogue's mixes: gunicorn x4 sync workers, wrk -t2 -c16 /"
        f" pgbench -c16 -j2, median of {args.runs} x {args.seconds}s (rounds interleaved),"
        f" pgbench on {args.sample} URLs of each mix"
    )
    print(
        f"{'workload':<34} {'req/s':>8} {'x hello':>8} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'app µs':>7} {'db µs':>7} {'load µs':>8} {'x by CPU':>8} {'busy µs':>8} {'idle':>5}"
        f" {'machine µs':>11}"
    )
    for label, kind, *_ in workloads:
        figure = figures[label]
        marks = "*" if kind == "pgbench" else " "
        print(
            f"{label:<34} {figure.rps:>8.0f} {figure.rps / hello.rps:>8.3f}"
            f" {figure.p50_ms:>6.1f}{marks} {figure.p99_ms:>6.1f}{marks}"
            f" {figure.app_us:>7.0f} {figure.db_us:>7.0f} {figure.load_us:>8.0f}"
            f" {own_cpu(hello) / own_cpu(figure):>8.3f}"
            f" {figure.busy_us:>8.0f} {figure.idle:>5.0%} {CORES * 1e6 / figure.rps:>11.0f}"
        )
    print(
        "* pgbench: mean latency and the worst one; its rate is statements (URLs) per second;"
        " machine µs = cores / rate"
    )
    print(
        "app, db, load: CPU µs per request of the gunicorn processes, PostgreSQL, wrk or pgbench;"
        " x by CPU: hello's app + db + load over this row's (the ratio on cores nobody else"
        " uses); busy: CPU µs of the whole machine per request (the kernel's softirqs and other"
        " developers' work too); idle: the cores' time left idle"
    )
    budget = CORES * 1e6 / (TARGET * hello.rps)
    print(
        f"\n{TARGET} x hello = {TARGET * hello.rps:.0f} req/s = {budget:.0f} µs of machine CPU"
        f" per request ({CORES} cores); hello itself takes {CORES * 1e6 / hello.rps:.0f}"
    )
    sizes = sorted({size for _, kind, size, _ in workloads if size})
    for size in sizes:
        tag = f"{size // 1000}k"
        trivial = figures[f"trivial page {tag}: (c) bare app"]
        for mix in args.mixes.split(","):
            shop = figures[f"{mix} {tag}: (d) shop"]
            bare = figures[f"{mix} {tag}: (b) bare app"]
            body = figures[f"{mix} {tag}: (e) body, no SQL"]
            alone = figures[f"{mix} {tag}: (a) pgbench"]
            print(
                f"\n{mix} {tag}, per request: machine µs (cores / req/s) and own CPU µs (app + db +"
                " load), each step over the one above"
            )
            ladder = [
                ("hello", hello),
                ("(e) a body of the mix's size, no SQL", body),
                ("(b) the shop's statement, bare app", bare),
                ("(d) the shop's own Python (the shop)", shop),
            ]
            above = None
            for name, figure in ladder:
                machine, own = CORES * 1e6 / figure.rps, own_cpu(figure)
                step = (
                    f"  +{machine - CORES * 1e6 / above.rps:>6.0f}  +{own - own_cpu(above):>6.0f}"
                    if above
                    else ""
                )
                print(
                    f"  {name:<40} {machine:>6.0f} {own:>6.0f}{step}"
                    f"   {figure.rps / hello.rps:.3f} x hello ({own_cpu(hello) / own:.3f} by CPU)"
                )
                above = figure
            print(
                f"  {TARGET} x hello allows {budget:.0f} machine µs ({own_cpu(hello) / TARGET:.0f}"
                f" own CPU µs at hello's {own_cpu(hello):.0f}); PostgreSQL alone (pgbench) spends"
                f" {alone.db_us:.0f} µs of its CPU a statement ({alone.db_us / budget:.0%} of the"
                f" machine budget; {bare.db_us:.0f} in the bare app, {shop.db_us:.0f} in the"
                f" shop) and runs {alone.rps:.0f}/s = {alone.rps / hello.rps:.2f} x hello"
            )
            verdict = "within" if bare.rps / hello.rps >= TARGET else "NOT within"
            print(
                f"  with no Python beyond the bare app's, this SQL gives {bare.rps / hello.rps:.3f}"
                f" x hello: {TARGET} x is {verdict} reach of app work alone; a trivial page"
                f" statement on the same stack gives {trivial.rps / hello.rps:.3f} x"
            )
    (start, end) = (" ".join(f"{value:.1f}" for value in load) for load in loads)
    print(
        f"\nload average (1, 5, 15 min) at the start {start}, at the end {end};"
        f" total bench time {elapsed:.0f} s"
    )


if __name__ == "__main__":
    main()
