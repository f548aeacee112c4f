"""Review: `flask check` catches any row of a trigger-kept table changed by hand. For every
table kept by triggers (main's `published_event_day`, `event_search_word`, and whatever a branch
adds: any table main does not have), each column of a row is changed in turn, a row is deleted,
and `flask check` (find_violations) must report something each time; put back, it is clean."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import now
from tests.helpers import violations

# Main's tables (9fa8bf4): written by the app itself, or kept by triggers and checked.
MAIN_TABLES = {
    "alembic_version", "app_user", "cart", "cart_item", "category", "customer_order", "event",
    "event_search_lexeme", "event_search_word", "idempotency_key", "order_item",
    "published_event_day", "rate_limit_counter", "rate_limit_hit", "refresh_token",
    "revoked_token", "ticket", "ticket_type", "venue",
}  # fmt: skip
KEPT_ON_MAIN = ["published_event_day", "event_search_word"]

CHANGE_BY_TYPE = {
    "integer": "{c} + 1",
    "bigint": "{c} + 1",
    "smallint": "{c} + 1",
    "numeric": "coalesce({c}, 0) + 1",
    "text": "coalesce({c}, '') || 'x'",
    "character varying": "coalesce({c}, '') || 'x'",
    "timestamp with time zone": "coalesce({c}, now()) + interval '1 second'",
    "date": "{c} + 1",
    "boolean": "NOT {c}",
    "json": "'{{}}'::json",
    "jsonb": "coalesce({c}, '{{}}'::jsonb) || '{{\"x\": 1}}'::jsonb",
}


def kept_tables(sql) -> list[str]:
    tables = {
        r["t"] for r in sql("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'")
    }
    return [*KEPT_ON_MAIN, *sorted(tables - MAIN_TABLES)]


def columns(sql, table: str) -> list[dict]:
    return sql(
        "SELECT column_name AS name, data_type AS type FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = :t ORDER BY ordinal_position",
        t=table,
    )


@pytest.fixture
def catalogue(make):
    venue = make.venue(name="Check Hall", city="Checkton")
    category = make.category(slug="check")
    events = []
    for i in range(3):
        event = make.event(
            title=f"Checked jazz night {i}", starts_at=now() + timedelta(days=2 + i),
            venue_id=venue.id, category_id=category.id,
        )  # fmt: skip
        make.ticket_type(event, price=Decimal("99.50"), capacity=10 + i)
        events.append(event)
    make.cart([(make.ticket_type(events[0], capacity=5), 2)])
    return events


def primary_key(sql, table: str) -> list[str]:
    return [
        r["name"]
        for r in sql(
            "SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = CAST(:t AS regclass) AND i.indisprimary ORDER BY a.attnum",
            t=table,
        )
    ]


def test_flask_check_catches_every_column_of_a_kept_row_changed_by_hand(app, sql, catalogue):
    assert violations(app) == []
    tried = []
    for table in kept_tables(sql):
        key = primary_key(sql, table)
        rows = sql(f"SELECT * FROM {table} ORDER BY {', '.join(key)} LIMIT 1")
        if not rows or not key:
            continue
        row = rows[0]
        where = " AND ".join(f"{k} = :key_{k}" for k in key)
        for column in columns(sql, table):
            change = CHANGE_BY_TYPE.get(column["type"])
            if change is None or column["name"] in key:
                continue
            name = column["name"]
            keys = {f"key_{k}": row[k] for k in key}
            sql(f"UPDATE {table} SET {name} = {change.format(c=name)} WHERE {where}", **keys)
            caught = violations(app)
            cast = (
                "::json"
                if column["type"] == "json"
                else "::jsonb"
                if column["type"] == "jsonb"
                else ""
            )
            original = row[name]
            if cast:
                import json

                original = json.dumps(original)
            sql(f"UPDATE {table} SET {name} = :v{cast} WHERE {where}", v=original, **keys)
            assert violations(app) == [], (table, name, "not put back")
            tried.append((table, name, bool(caught)))
    missed = [(table, column) for table, column, caught in tried if not caught]
    assert tried and missed == [], tried
    # every kept table with rows and a column that is not its key was tried
    assert {table for table, _, _ in tried} == {
        t
        for t in kept_tables(sql)
        if sql(f"SELECT 1 AS x FROM {t} LIMIT 1")
        and {c["name"] for c in columns(sql, t)} - set(primary_key(sql, t))
    }


@pytest.mark.parametrize("how", ["delete", "duplicate_seats"])
def test_flask_check_catches_a_kept_row_deleted_or_doubled(app, sql, catalogue, how):
    for table in kept_tables(sql):
        rows = sql(f"SELECT ctid::text AS ctid FROM {table} ORDER BY ctid LIMIT 1")
        if not rows:
            continue
        if how == "delete":
            sql(f"DELETE FROM {table} WHERE ctid = CAST(:c AS tid)", c=rows[0]["ctid"])
        else:
            integer_columns = [
                c["name"] for c in columns(sql, table) if c["type"] == "integer"
                and c["name"] not in ("id", "event_id", "venue_id", "category_id")
            ]  # fmt: skip
            if not integer_columns:
                continue
            name = integer_columns[-1]
            sql(
                f"UPDATE {table} SET {name} = {name} * 2 + 1 WHERE ctid = CAST(:c AS tid)",
                c=rows[0]["ctid"],
            )
        assert violations(app), (table, how)
        return
    pytest.fail("no kept table has rows")
