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
