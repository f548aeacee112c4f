"""The learner SQL in docs/sql runs against a seeded database and returns the rows it promises."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.factories import now

SQL_DIR = Path(__file__).resolve().parent.parent / "docs" / "sql"


@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["seed", "--events", "60"])
    assert result.exit_code == 0, result.output


def run_file(sql, name: str, **params) -> list[dict]:
    return sql((SQL_DIR / name).read_text(), **params)


def test_every_sql_file_is_covered_here():
    tested = {
        "week1_all_events.sql",
        "week1_event_by_id.sql",
        "week2_events_page.sql",
        "week2_cart_lines.sql",
        "week2_order_totals.sql",
        "week2_user_orders.sql",
    }
    assert {path.name for path in SQL_DIR.glob("*.sql")} == tested


def test_all_events_lists_published_upcoming_in_start_order(seeded, sql):
    rows = run_file(sql, "week1_all_events.sql")
    expected = sql(
        "SELECT count(*) AS n FROM event WHERE status = 'published' AND starts_at >= now()"
    )[0]["n"]
    assert len(rows) == expected > 0
    starts = [row["starts_at"] for row in rows]
    assert starts == sorted(starts)
    assert all(row["venue"] and row["category"] and row["price_from"] is not None for row in rows)


def test_event_by_id_returns_one_row_per_ticket_type(seeded, sql):
    event_id = sql(
        "SELECT event_id FROM ticket_type GROUP BY event_id HAVING count(*) > 1 LIMIT 1"
    )[0]["event_id"]
    rows = run_file(sql, "week1_event_by_id.sql", event_id=event_id)
    tiers = sql("SELECT count(*) AS n FROM ticket_type WHERE event_id = :e", e=event_id)[0]["n"]
    assert len(rows) == tiers
    assert {row["event_id"] for row in rows} == {event_id}
    assert all(row["seats_left"] == row["capacity"] - row["sold"] for row in rows)


def test_events_page_has_page_size_rows_and_the_total(seeded, sql):
    first = run_file(sql, "week2_events_page.sql", page_size=10, page_offset=0)
    second = run_file(sql, "week2_events_page.sql", page_size=10, page_offset=10)
    assert len(first) == len(second) == 10
    assert first[0]["total_items"] == second[0]["total_items"] > 20
    assert not {row["id"] for row in first} & {row["id"] for row in second}
    assert first[-1]["starts_at"] <= second[0]["starts_at"]


def test_cart_lines_show_line_totals_and_subtotal(seeded, sql, make):
    user = make.user()
    tiers = sql("SELECT id, event_id, price FROM ticket_type ORDER BY id LIMIT 2")
    cart_id = sql("INSERT INTO cart (user_id) VALUES (:u) RETURNING id", u=user.id)[0]["id"]
    for quantity, tier in enumerate(tiers, start=2):
        sql(
            "INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)"
            " VALUES (:c, :e, :t, :q, :p)",
            c=cart_id,
            e=tier["event_id"],
            t=tier["id"],
            q=quantity,
            p=tier["price"],
        )
    rows = run_file(sql, "week2_cart_lines.sql", cart_id=cart_id)
    assert [row["quantity"] for row in rows] == [2, 3]
    expected = tiers[0]["price"] * 2 + tiers[1]["price"] * 3
    assert all(row["subtotal"] == expected for row in rows)


@pytest.fixture
def order(seeded, sql, make):
    user = make.user()
    tier = sql("SELECT id, event_id, price FROM ticket_type ORDER BY id LIMIT 1")[0]
    cart_id = sql(
        "INSERT INTO cart (user_id, status) VALUES (:u, 'checked_out') RETURNING id", u=user.id
    )[0]["id"]
    total = tier["price"] * 2
    order_id = sql(
        "INSERT INTO customer_order (user_id, cart_id, total, currency, confirmed_at)"
        " VALUES (:u, :c, :total, 'DKK', now()) RETURNING id",
        u=user.id,
        c=cart_id,
        total=total,
    )[0]["id"]
    sql(
        "INSERT INTO order_item (order_id, event_id, ticket_type_id, event_title, event_starts_at,"
        " ticket_type_name, unit_price, quantity, line_total)"
        " VALUES (:o, :e, :t, 'Snapshot title', :s, 'Standard', :p, 2, :total)",
        o=order_id,
        e=tier["event_id"],
        t=tier["id"],
        s=now() + timedelta(days=3),
        p=tier["price"],
        total=total,
    )
    return {"id": order_id, "user_id": user.id, "total": total, "tier_id": tier["id"]}


def test_order_totals_come_from_snapshots(order, sql):
    sql("UPDATE ticket_type SET price = price + 100 WHERE id = :t", t=order["tier_id"])
    rows = run_file(sql, "week2_order_totals.sql", order_id=order["id"])
    assert rows == [
        {
            "order_id": order["id"],
            "status": "confirmed",
            "order_total": order["total"],
            "currency": "DKK",
            "tickets": 2,
            "sum_of_lines": order["total"],
            "totals_agree": True,
        }
    ]


def test_user_orders_lists_items_newest_first(order, sql):
    rows = run_file(sql, "week2_user_orders.sql", user_id=order["user_id"])
    assert len(rows) == 1
    assert rows[0]["event_title"] == "Snapshot title"
    assert rows[0]["quantity"] == 2
    assert rows[0]["line_total"] == order["total"] == rows[0]["unit_price"] * 2
    assert isinstance(rows[0]["total"], Decimal)
