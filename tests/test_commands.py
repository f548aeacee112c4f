"""Developer commands: create-admin and psql."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shop.services.passwords import verify_password
from tests.helpers import EMBEDDED_ONLY, database_name

ROOT = Path(__file__).resolve().parent.parent


def test_create_admin_creates_an_admin_with_a_hashed_password(runner, sql):
    result = runner.invoke(
        args=["create-admin", "Boss@Example.com ", "--name", "Boss"],
        input="Very-Strong-42\nVery-Strong-42\n",
    )
    assert result.exit_code == 0, result.output
    row = sql("SELECT email, role, name, password_hash FROM app_user")[0]
    assert row["email"] == "boss@example.com"
    assert row["role"] == "admin" and row["name"] == "Boss"
    assert row["password_hash"] != "Very-Strong-42"
    assert verify_password(row["password_hash"], "Very-Strong-42")


def test_create_admin_promotes_an_existing_customer(runner, make, sql):
    user = make.user(email="pat@example.com")
    result = runner.invoke(args=["create-admin", "PAT@example.com", "--password", "Another-Pass-7"])
    assert result.exit_code == 0, result.output
    assert "Promoted" in result.output
    assert sql("SELECT role FROM app_user WHERE id = :id", id=user.id) == [{"role": "admin"}]


def test_create_admin_refuses_a_weak_password(runner, sql):
    result = runner.invoke(args=["create-admin", "weak@example.com", "--password", "aaaaaaaa"])
    assert result.exit_code == 2
    assert "two kinds of characters" in result.output
    assert sql("SELECT count(*) AS n FROM app_user") == [{"n": 0}]


def test_psql_command_runs_sql_on_the_configured_database(runner, capfd, database_url):
    result = runner.invoke(args=["psql", "-tAc", "SELECT current_database()"])
    assert result.exit_code == 0, result.output
    assert capfd.readouterr().out.strip() == database_name(database_url)


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason=EMBEDDED_ONLY)
def test_a_second_process_shares_the_embedded_server_and_leaves_it_running(sql):
    """A `flask` command in another process joins the running embedded server; when it exits
    the server keeps serving the processes still using it (here, this test run)."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["SHOP_ENV"] = "development"
    result = subprocess.run(
        [sys.executable, "-m", "flask", "psql", "-tAc", "SELECT 40 + 2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"
    assert sql("SELECT 1 AS still_up") == [{"still_up": 1}]


def test_purge_deletes_only_what_no_longer_matters(runner, make, sql):
    user = make.user()
    sql(
        "INSERT INTO idempotency_key (user_id, key, request_fingerprint, created_at) VALUES"
        " (:u, 'old', 'f', now() - interval '25 hours'),"
        " (:u, 'recent', 'f', now() - interval '23 hours')",
        u=user.id,
    )
    sql(
        "INSERT INTO revoked_token (jti, token_type, user_id, expires_at) VALUES"
        " ('dead', 'access', :u, now() - interval '1 minute'),"
        " ('live', 'refresh', :u, now() + interval '1 day')",
        u=user.id,
    )
    sql(
        "INSERT INTO rate_limit_hit (key, hit_at, expires_at) VALUES"
        " ('gone', 0, extract(epoch FROM now()) - 1),"
        " ('counting', 0, extract(epoch FROM now()) + 60)"
    )
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert (
        "Deleted 1 idempotency keys, 1 expired token records and 1 expired rate-limit counters."
        in result.output
    )
    assert sql("SELECT key FROM rate_limit_hit WHERE key IN ('gone', 'counting')") == [
        {"key": "counting"}
    ]
    assert sql("SELECT key FROM idempotency_key") == [{"key": "recent"}]
    assert sql("SELECT jti FROM revoked_token") == [{"jti": "live"}]
