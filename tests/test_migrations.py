"""Migrations build the schema the models describe, and can be walked down and up again."""

import flask_migrate
import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shop import create_app
from shop.database import libpq_url, recreate_database, with_database
from shop.extensions import db


def test_models_and_migrations_do_not_drift(app):
    with app.app_context():
        context = MigrationContext.configure(db.session.connection())
        differences = compare_metadata(context, db.metadata)
    assert differences == [], f"autogenerate would change the schema: {differences}"


def test_downgrade_to_base_and_upgrade_again(database_url):
    scratch = with_database(database_url, "shop_test_migrations")
    recreate_database(libpq_url(with_database(database_url, "postgres")), "shop_test_migrations")
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
