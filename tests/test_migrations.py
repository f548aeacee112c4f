"""Migrations build the schema the models describe, and can be walked down and up again."""

import flask_migrate
import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shop import create_app
from shop.database import libpq_url
from shop.extensions import db
from tests.helpers import scratch_database


def test_models_and_migrations_do_not_drift(app):
    with app.app_context():
        context = MigrationContext.configure(db.session.connection())
        differences = compare_metadata(context, db.metadata)
    assert differences == [], f"autogenerate would change the schema: {differences}"


@pytest.fixture
def scratch(database_url):
    with scratch_database(database_url, "migrations") as url:
        yield url


def test_downgrade_to_base_and_upgrade_again(scratch):
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": scratch})
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="0001_week1_catalogue")
        assert _tables(scratch) == {
            "alembic_version",
            "app_user",
            "category",
            "venue",
            "event",
            "ticket_type",
        }
        flask_migrate.downgrade(revision="base")
        assert _tables(scratch) == {"alembic_version"}
        flask_migrate.upgrade()
        assert "customer_order" in _tables(scratch)
        db.engine.dispose()


def _tables(url: str) -> set[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_the_event_table_rewritten_by_a_migration_is_vacuumed_after_it(scratch):
    """0009 rewrites `event` (a stored generated column), which empties its visibility map: until
    a vacuum, every index-only scan of the catalogue reads each event's row as well."""
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": scratch})
    with app.app_context():
        flask_migrate.upgrade(revision="0008_browse")
        _add_published_events(scratch, 500)
        with psycopg.connect(libpq_url(scratch), autocommit=True) as conn:
            conn.execute("VACUUM event")
        assert _visible_pages(scratch) == _pages(scratch) > 0

        flask_migrate.upgrade(revision="0009_search")
        assert _visible_pages(scratch) == 0  # the rewrite

        flask_migrate.upgrade()
        assert _visible_pages(scratch) == _pages(scratch)
        db.engine.dispose()


def _add_published_events(url: str, count: int) -> None:
    with psycopg.connect(libpq_url(url)) as conn:
        category_id = conn.execute(
            "INSERT INTO category (slug, name) VALUES ('jazz', 'Jazz') RETURNING id"
        ).fetchone()[0]
        venue_id = conn.execute(
            "INSERT INTO venue (name, city, address)"
            " VALUES ('Hall', 'Aarhus', 'Street 1') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO event (title, description, starts_at, ends_at, status, venue_id,"
            " category_id, currency)"
            " SELECT 'Jazz night ' || n, 'Music', now() + n * interval '1 day',"
            " now() + n * interval '1 day' + interval '2 hours', 'published', %s, %s, 'DKK'"
            " FROM generate_series(1, %s) AS n",
            (venue_id, category_id, count),
        )


def _pages(url: str) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute("SELECT relpages FROM pg_class WHERE relname = 'event'").fetchone()[0]


def _visible_pages(url: str) -> int:
    """Pages of `event` the visibility map marks all-visible (what index-only scans rely on),
    as the last vacuum or table rewrite left the count."""
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(
            "SELECT relallvisible FROM pg_class WHERE relname = 'event'"
        ).fetchone()[0]
