"""Helper behind scripts/server: database, migrations, seed, then gunicorn.

With no DATABASE_URL this process starts (or joins) the embedded PostgreSQL and holds it for as
long as the server runs; the children get its URL in DATABASE_URL. On Ctrl-C (or SIGTERM) gunicorn
stops first, then the embedded server, unless another process (a test run, a flask shell) still
uses it.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def database_url() -> str:
    from shop.database import embedded_server_url

    configured = os.environ.get("DATABASE_URL")
    if configured:
        return configured
    instance = os.environ.get("SHOP_INSTANCE_PATH") or str(ROOT / "instance")
    return embedded_server_url(instance, os.environ.get("SHOP_DATABASE_NAME", "shop"))


def run(*args: str) -> None:
    subprocess.run(args, check=True, cwd=ROOT)


def migrate() -> None:
    """`flask db upgrade`, reporting only what it changed (Alembic's two "Context impl" lines
    come on every run and say nothing)."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(result.returncode)
    output = (result.stdout + result.stderr).splitlines()
    applied = [line for line in output if "Running upgrade" in line]
    for line in applied:
        print("Migrated:", line.split("Running upgrade", 1)[1].strip(), flush=True)
    if not applied:
        print("Database schema is up to date (no migrations to run).", flush=True)


def port_problem(host: str, port: int) -> str | None:
    """Why gunicorn could not listen on host:port, in one sentence, or None if it can.

    Checked before anything else, so a taken port is one clear line instead of gunicorn's
    retries ("Connection in use" five times, then an exit after about ten seconds)."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
    try:
        probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return (
                f"Port {port} on {host} is already in use (another scripts/server? on macOS,"
                f" the AirPlay Receiver takes 5000): try PORT={port + 1} scripts/server"
            )
        return f"Cannot listen on {host}:{port}: {error.strerror}"
    finally:
        probe.close()
    return None


def wait_until_serving(server: subprocess.Popen, host: str, port: int) -> bool:
    """Poll /api/health until this app answers it (True) or gunicorn exits (False)."""
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
    url = f"http://{probe_host}:{port}/api/health"
    while server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:  # 503: serving, but the database is down
            body = json.load(error) if error.code == 503 else {}
        except (OSError, ValueError):
            time.sleep(0.2)
            continue
        if "data" in body or body.get("code"):
            return True
        time.sleep(0.2)
    return False


def serve(extra: list[str]) -> int:
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5000"))
    problem = port_problem(host, port)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    os.environ["DATABASE_URL"] = database_url()
    migrate()
    run(sys.executable, "-m", "flask", "seed")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *extra, "asgi:app"], cwd=ROOT
    )

    def forward(signum, _frame):
        server.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    if wait_until_serving(server, host, port):
        print(
            f"\nshop is serving on http://{host}:{port}  (Swagger UI: http://{host}:{port}/api/docs)"
            "\nLeave this running and open a second terminal for curl, flask or scripts/test;"
            " Ctrl-C stops it.\n",
            flush=True,
        )
    return server.wait()


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "serve":
        sys.exit("usage: launch.py serve [gunicorn args]")
    sys.exit(serve(sys.argv[2:]))
