"""`flask` commands for developers: seed, create-admin, erd, psql."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from shop.extensions import db


def register_commands(app: Flask) -> None:
    for command in (seed_command, create_admin_command, erd_command, psql_command, purge_command):
        app.cli.add_command(command)


@click.command("seed")
@with_appcontext
@click.option("--reset", is_flag=True, help="Empty every table first, then seed.")
@click.option(
    "--events",
    "event_count",
    default=300,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="How many events to create.",
)
@click.option(
    "--seed",
    "random_seed",
    default=2026,
    show_default=True,
    help="Random seed (same seed, same data).",
)
@click.option(
    "--demo-accounts/--no-demo-accounts",
    default=None,
    help="Create the demo customer and admin with the README's passwords. Default: yes in"
    " development and testing, no in production (where only the flag creates them).",
)
def seed_command(
    reset: bool, event_count: int, random_seed: int, demo_accounts: bool | None
) -> None:
    """Fill the database with demo data: catalogue, real orders and tickets, and (outside
    production, or with --demo-accounts) the demo accounts. Does nothing if events exist;
    --reset starts over."""
    from shop.seed import DEMO_ADMIN, DEMO_CUSTOMER, reset_database, seed

    if demo_accounts is None:
        demo_accounts = current_app.config["ENV_NAME"] != "production"
    started = time.perf_counter()
    if reset:
        reset_database(db.session)
    with click.progressbar(length=event_count, label="Seeding events", file=sys.stderr) as bar:
        report = seed(
            db.session,
            events=event_count,
            random_seed=random_seed,
            progress=bar.update,
            demo_accounts=demo_accounts,
        )
    db.session.commit()
    if not report.skipped:
        vacuum_catalogue()
    elapsed = time.perf_counter() - started
    if report.skipped:
        click.echo("The catalogue already has events: nothing to do (use --reset to start over).")
    else:
        click.echo(
            f"Seeded {report.events} events, {report.ticket_types} ticket types,"
            f" {report.orders} orders and {report.tickets} tickets in {elapsed:.1f} s."
        )
    if demo_accounts:
        click.echo(f"Demo customer: {DEMO_CUSTOMER['email']} / {DEMO_CUSTOMER['password']}")
        click.echo(f"Demo admin:    {DEMO_ADMIN['email']} / {DEMO_ADMIN['password']}")
    else:
        click.echo(
            "No demo accounts (production): `flask seed --demo-accounts` creates them with the"
            " README's passwords; `flask create-admin EMAIL` makes an admin of your own."
        )


def vacuum_catalogue() -> None:
    """VACUUM ANALYZE after a bulk load, as autovacuum would later: fresh statistics and a
    visibility map let counts use index-only scans right away."""
    engine = db.engine
    if isinstance(engine, Engine):  # under the test harness the "engine" is a shared Connection
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) event, ticket_type, venue, category")


@click.command("create-admin")
@with_appcontext
@click.argument("email")
@click.option("--name", default="Admin", show_default=True)
@click.password_option(help="Prompted for when not given.")
def create_admin_command(email: str, name: str, password: str) -> None:
    """Create an admin account, or make an existing account an admin."""
    from shop.models import User
    from shop.services.passwords import hash_password
    from shop.services.users import PasswordPolicyError, check_password_policy, normalize_email

    email = normalize_email(email)
    try:
        check_password_policy(password, email)
    except PasswordPolicyError as error:
        raise click.BadParameter(str(error), param_hint="password") from error
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        user = User(email=email, name=name, password_hash=hash_password(password), role="admin")
        db.session.add(user)
        verb = "Created"
    else:
        user.role = "admin"
        user.password_hash = hash_password(password)
        verb = "Promoted"
    db.session.commit()
    click.echo(f"{verb} admin {email} (id {user.id}).")


@click.command("erd")
@with_appcontext
@click.option(
    "--check", is_flag=True, help="Exit 1 if docs/ differs from the models, write nothing."
)
def erd_command(check: bool) -> None:
    """Regenerate docs/erd-v1.md (week 1) and docs/erd-v2.md (all tables) from the models."""
    from shop.erd import render_erd_documents

    docs = Path(current_app.root_path).parent / "docs"
    stale = []
    for filename, content in render_erd_documents().items():
        path = docs / filename
        if check:
            if not path.exists() or path.read_text() != content:
                stale.append(filename)
        else:
            path.write_text(content)
            click.echo(f"wrote {path}")
    if stale:
        raise click.ClickException(f"Out of date: {', '.join(stale)}. Run `flask erd`.")


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete what no longer matters: idempotency keys older than 24 h, revoked tokens that
    have expired anyway. Safe to run at any time (e.g. daily from a Render cron job)."""
    from shop.services.accounts import purge_expired_revocations
    from shop.services.idempotency import purge

    now = db.session.scalar(select(func.now()))
    keys = purge(db.session, now)
    tokens = purge_expired_revocations(db.session, now)
    db.session.commit()
    click.echo(f"Deleted {keys} idempotency keys and {tokens} expired token revocations.")


@click.command("psql", context_settings={"ignore_unknown_options": True})
@with_appcontext
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
def psql_command(psql_args: tuple[str, ...]) -> None:
    """Open psql on the configured database (the embedded server's psql when none is installed)."""
    from shop.database import embedded_bin, libpq_url

    url = libpq_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    executable = embedded_bin("psql")
    if not os.path.exists(executable):
        executable = "psql"
    sys.exit(subprocess.call([executable, url, *psql_args]))
