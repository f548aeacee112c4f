"""Shared bench plumbing: a seeded bench database, gunicorn servers, wrk runs, CPU accounting.

Benches never touch the development database: they use `shop_bench_<events>` on the embedded
server (or on BENCH_DATABASE_URL's server). Figures are printed, not asserted.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": %d, "non2xx": %d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def python_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # No rate limits, quiet logs, and no worker recycling (a recycled worker takes its CPU
    # accounting with it, and a restart mid-run shows up as errors).
    env.update(
        {
            "RATELIMIT_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONDONTWRITEBYTECODE": "1",
            "GUNICORN_MAX_REQUESTS": "0",
        }
    )
    env.update(extra)
    return env


def bench_database(events: int) -> str:
    """URL of a migrated database seeded with `events` events (reused when it already is)."""
    from shop.database import embedded_server_url, libpq_url, with_database

    name = f"shop_bench_{events}"
    base = os.environ.get("BENCH_DATABASE_URL")
    if base:
        from shop.database import ensure_database, normalize_database_url

        admin = libpq_url(with_database(normalize_database_url(base), "postgres"))
        ensure_database(admin, name)
        url = with_database(normalize_database_url(base), name)
    else:
        url = embedded_server_url(ROOT / "instance", name)
    env = python_env(DATABASE_URL=url)
    subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    import psycopg

    with psycopg.connect(libpq_url(url)) as conn:
        # Events the checkout benches add ("Bench event ...") do not count as catalogue.
        have = conn.execute(
            "SELECT count(*) FROM event WHERE title NOT LIKE 'Bench event %'"
        ).fetchone()[0]
    if have != events:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "flask", "seed", "--reset", "--events", str(events)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        print(f"seeded {events} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return url


def import_shop_from_code_argument() -> None:
    """With `--code DIR` on the command line, `import shop` finds DIR's checkout first (for an
    in-process before/after). Call it before anything imports `shop`."""
    if "--code" in sys.argv:
        sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--code") + 1]).resolve()))


def environ_for(path: str) -> dict:
    """A WSGI environ for `GET path`, for benches that call the app in-process (no socket)."""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, method="GET", base_url="http://127.0.0.1:5000")
    try:
        return builder.get_environ()
    finally:
        builder.close()


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def gunicorn(
    app: str,
    port: int,
    database_url: str | None = None,
    workers: int = 4,
    cwd: Path = ROOT,
    **extra_env: str,
) -> Iterator[psutil.Process]:
    """Serve `app` with the project's gunicorn config on 127.0.0.1:port: `asgi:app` as
    production serves it, or a WSGI app (wsgi:app, bench.hello_app:app) on sync workers.
    `cwd`: the checkout whose code is served (another worktree, for a before/after run)."""
    env = python_env(HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(workers), **extra_env)
    if database_url:
        env["DATABASE_URL"] = database_url
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *worker_args(app), app],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        try:
            wait_for(
                f"http://127.0.0.1:{port}/api/health"
                if database_url
                else f"http://127.0.0.1:{port}/"
            )
        except RuntimeError:
            log.seek(0)
            print(log.read()[-3000:], file=sys.stderr)
            raise
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)
        os.unlink(log.name)


def worker_args(app: str) -> list[str]:
    """gunicorn.conf.py runs asgi workers (asgi:app, bench.hello_app:asgi_app); a plain WSGI app
    needs sync workers."""
    return [] if is_asgi(app) else ["--worker-class", "sync"]


def is_asgi(app: str) -> bool:
    return app.startswith("asgi:") or app.endswith(":asgi_app")


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def server_processes(master: psutil.Process) -> list[psutil.Process]:
    return [master, *master.children(recursive=True)]


def postgres_processes() -> list[psutil.Process]:
    """The bench's PostgreSQL: the embedded server of this checkout (its postmaster and backends),
    not the servers of other checkouts on the same machine; every PostgreSQL process when
    BENCH_DATABASE_URL points elsewhere."""
    everything = [
        p for p in psutil.process_iter(["name"]) if p.info["name"] in {"postgres", "postmaster"}
    ]
    if os.environ.get("BENCH_DATABASE_URL"):
        return everything
    data_dir = str((ROOT / "instance" / "postgres").resolve())
    for process in everything:
        with contextlib.suppress(psutil.Error):
            if data_dir in process.cmdline() and process.ppid() not in {p.pid for p in everything}:
                return [process, *process.children(recursive=True)]
    return everything


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    non2xx: int
    app_cpu_us: float
    db_cpu_us: float


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is needed (Debian package `wrk`); install it and run again.")
    return wrk


def wrk_run(
    url: str,
    master: psutil.Process | None,
    *,
    seconds: int = 5,
    connections: int = 16,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    paths: list[str] | None = None,
) -> Run:
    """One wrk run against `url`, or against `url`'s host cycling through `paths` (a URL mix)."""
    from bench.mixes import wrk_paths_script

    wrk = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT + (wrk_paths_script(paths) if paths else ""))
    app_procs = server_processes(master) if master else []
    db_procs = postgres_processes()
    app_before, db_before = cpu_seconds(app_procs), cpu_seconds(db_procs)
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url]
    for name, value in (headers or {}).items():
        command[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    app_after, db_after = cpu_seconds(app_procs), cpu_seconds(db_procs)
    os.unlink(script.name)
    stats = json.loads(output.strip().splitlines()[-1])
    requests = max(stats["requests"], 1)
    return Run(
        rps=stats["requests"] / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        requests=stats["requests"],
        errors=stats["errors"],
        non2xx=stats["non2xx"],
        app_cpu_us=(app_after - app_before) / requests * 1e6,
        db_cpu_us=(db_after - db_before) / requests * 1e6,
    )


def median_of(runs: list[Run]) -> dict[str, float]:
    """Median of each figure, plus min–max of throughput."""
    fields = ["rps", "p50_ms", "p99_ms", "app_cpu_us", "db_cpu_us"]
    result = {name: statistics.median(getattr(run, name) for run in runs) for name in fields}
    result["rps_min"] = min(run.rps for run in runs)
    result["rps_max"] = max(run.rps for run in runs)
    result["errors"] = sum(run.errors + run.non2xx for run in runs)
    return result


def print_table(
    title: str, rows: list[tuple[str, dict[str, float]]], reference: float | None = None
) -> None:
    """Rows of median figures; with `reference` (hello's req/s) also each row's share of it."""
    print(f"\n{title}")
    header = f"{'route':<34} {'req/s (min–max)':>22}"
    header += f" {'x hello':>8}" if reference else ""
    print(f"{header} {'p50 ms':>8} {'p99 ms':>8} {'app µs':>8} {'db µs':>7} {'err':>4}")
    for name, r in rows:
        spread = f"{r['rps']:.0f} ({r['rps_min']:.0f}–{r['rps_max']:.0f})"
        share = f" {r['rps'] / reference:>8.3f}" if reference else ""
        print(
            f"{name:<34} {spread:>22}{share} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['app_cpu_us']:>8.0f} {r['db_cpu_us']:>7.0f} {int(r['errors']):>4}"
        )
