"""Helper behind scripts/server: database, migrations, seed, then gunicorn.

With no DATABASE_URL this process starts (or joins) the embedded PostgreSQL and holds it for as
long as the server runs; the children get its URL in DATABASE_URL. On Ctrl-C (or SIGTERM) gunicorn
stops first, then the embedded server, unless another process (a test run, a flask shell) still
uses it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


def serve(extra: list[str]) -> int:
    os.environ["DATABASE_URL"] = database_url()
    run(sys.executable, "-m", "flask", "db", "upgrade")
    run(sys.executable, "-m", "flask", "seed")
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "5000")
    print(
        f"\nshop is serving on http://{host}:{port}  (Swagger UI: http://{host}:{port}/api/docs)\n",
        flush=True,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *extra, "asgi:app"], cwd=ROOT
    )

    def forward(signum, _frame):
        server.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return server.wait()


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "serve":
        sys.exit("usage: launch.py serve [gunicorn args]")
    sys.exit(serve(sys.argv[2:]))
