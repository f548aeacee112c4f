"""Review: walking the newest migration down and up again leaves the catalogue answering the
same, by the plain definition: on a database of its own, seeded and sold from, then changed in
SQL while downgraded (no trigger of a later migration runs then: the upgrade must build what
it keeps from the tables as they are), then upgraded again."""

from __future__ import annotations

from pathlib import Path

import flask_migrate
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from shop import create_app
from shop.extensions import db
from tests.helpers import scratch_database
from tests.test_listing_equals_plain_definition import check_detail, check_listing


def _before_the_newest_migration() -> str:
    """The revision the newest migration upgrades from: each new migration is walked down and
    up again by this test."""
    migrations = Path(__file__).resolve().parent.parent / "migrations"
    config = Config(str(migrations / "alembic.ini"))
    config.set_main_option("script_location", str(migrations))
    scripts = ScriptDirectory.from_config(config)
    revision = scripts.get_revision(scripts.get_current_head())
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


BEFORE_THE_NEWEST = _before_the_newest_migration()
LISTINGS = [
    {},
    {"sort": "-startsAt"},
    {"sort": "price"},
    {"sort": "-price"},
    {"sort": "title"},
    {"available": "true"},
    {"minPrice": "100", "maxPrice": "400"},
    {"q": "jazz"},
    {"q": "downgraded"},
    {"from": "2000-01-01T00:00:00+00:00", "sort": "title"},
]


@pytest.fixture
def scratch_app(database_url):
    with scratch_database(database_url, "downgrade") as url:
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def sql_on(app):
    def run(statement: str, **params) -> list[dict]:
        with app.app_context():
            result = db.session.execute(text(statement), params)
            rows = [dict(row) for row in result.mappings()] if result.returns_rows else []
            db.session.commit()
            db.session.remove()
            return rows

    return run


def answers(client, sql) -> dict:
    got = {}
    for params in LISTINGS:
        check_listing(client, sql, params, page_sizes=(7, 20))
        got[str(params)] = client.get(
            "/api/events", query_string={**params, "pageSize": 50}
        ).get_data(as_text=True)
    for row in sql("SELECT id FROM event ORDER BY id"):
        check_detail(client, sql, row["id"])
        got[row["id"]] = client.get(f"/api/events/{row['id']}").get_data(as_text=True)
    return got


def test_downgrade_then_upgrade_answers_by_the_plain_definition(scratch_app):
    app, sql = scratch_app, sql_on(scratch_app)
    client = app.test_client()
    with app.app_context():
        flask_migrate.upgrade()
    seeded = app.test_cli_runner().invoke(args=["seed", "--events", "40"])
    assert seeded.exit_code == 0, seeded.output
    # a hold and a sale
    tiers = sql(
        "SELECT t.id FROM ticket_type t JOIN event e ON e.id = t.event_id"
        " WHERE e.status = 'published' AND e.starts_at > now() AND t.capacity - t.sold > 3"
        " ORDER BY t.id LIMIT 2"
    )
    held = client.post("/api/cart/items", json={"ticketTypeId": tiers[0]["id"], "quantity": 2})
    assert held.status_code == 201, held.get_json()
    first = answers(client, sql)

    with app.app_context():
        flask_migrate.downgrade(revision=BEFORE_THE_NEWEST)
        db.session.remove()
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
    assert answers(client, sql) == first

    # Changed while downgraded: what a later migration keeps must be rebuilt from the tables.
    with app.app_context():
        flask_migrate.downgrade(revision=BEFORE_THE_NEWEST)
        db.session.remove()
    events = [r["id"] for r in sql(
        "SELECT id FROM event WHERE status = 'published' AND starts_at > now() ORDER BY id"
    )]  # fmt: skip
    sql("UPDATE event SET title = 'Downgraded jazz \"x\"' WHERE id = :id", id=events[0])
    sql("UPDATE event SET status = 'draft' WHERE id = :id", id=events[1])
    sql("UPDATE event SET starts_at = starts_at + interval '3 days',"
        " ends_at = ends_at + interval '3 days' WHERE id = :id", id=events[2])  # fmt: skip
    sql("UPDATE ticket_type SET price = price + 77 WHERE event_id = :id", id=events[3])
    sql("DELETE FROM ticket_type WHERE event_id = :id AND sold = 0 AND NOT EXISTS"
        " (SELECT FROM cart_item WHERE ticket_type_id = ticket_type.id)", id=events[4])  # fmt: skip
    sql("UPDATE venue SET name = name || ' (downgraded)', city = 'Downtown'"
        " WHERE id = (SELECT venue_id FROM event WHERE id = :id)", id=events[5])  # fmt: skip
    sql("UPDATE category SET name = 'Downgraded' WHERE id ="
        " (SELECT category_id FROM event WHERE id = :id)", id=events[6])  # fmt: skip
    sql("UPDATE event SET status = 'published' WHERE status = 'draft' AND id <> :id"
        " AND id IN (SELECT id FROM event WHERE status = 'draft' ORDER BY id LIMIT 2)",
        id=events[1])  # fmt: skip
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
    answers(client, sql)
    check_listing(client, sql, {"city": "downtown"}, page_sizes=(20,))
    check_listing(client, sql, {"q": "downgraded", "sort": "title"}, page_sizes=(20,))
