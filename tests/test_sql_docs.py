"""The learner SQL in docs/sql runs against a seeded database and returns the rows it promises."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

SQL_DIR = Path(__file__).resolve().parent.parent / "docs" / "sql"


@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["seed", "--reset", "--events", "60"])  # fresh: ids from 1
    assert result.exit_code == 0, result.output


def run_file(sql, name: str, **params) -> list[dict]:
    return sql((SQL_DIR / name).read_text(), **params)


def documented_parameters(path: Path) -> dict[str, int]:
    """The `-v name=value` of the file's `-- Run: flask psql ...` line."""
    run_line = next(line for line in path.read_text().splitlines() if line.startswith("-- Run:"))
    return {name: int(value) for name, value in re.findall(r"-v (\w+)=(\d+)", run_line)}


@pytest.mark.parametrize("path", sorted(SQL_DIR.glob("*.sql")), ids=lambda path: path.name)
def test_every_sql_file_returns_rows_on_a_fresh_seed_as_documented(seeded, sql, path):
    rows = sql(path.read_text(), **documented_parameters(path))
    assert rows, (
        f"{path.name} returns no rows on a fresh `flask seed` with its documented -v values"
    )


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


def test_cart_lines_show_line_totals_and_subtotal(seeded, sql):
    rows = run_file(sql, "week2_cart_lines.sql", cart_id=1)
    lines = sql(
        "SELECT ci.quantity, t.price FROM cart_item ci JOIN ticket_type t"
        " ON t.id = ci.ticket_type_id WHERE ci.cart_id = 1 ORDER BY ci.id"
    )
    assert [row["quantity"] for row in rows] == [line["quantity"] for line in lines]
    expected = sum(line["price"] * line["quantity"] for line in lines)
    assert all(row["subtotal"] == expected for row in rows) and expected > 0


def test_order_totals_come_from_snapshots(seeded, sql):
    order = sql(
        "SELECT o.total, oi.ticket_type_id, oi.quantity FROM customer_order o"
        " JOIN order_item oi ON oi.order_id = o.id WHERE o.id = 1"
    )[0]
    sql("UPDATE ticket_type SET price = price + 100 WHERE id = :t", t=order["ticket_type_id"])
    rows = run_file(sql, "week2_order_totals.sql", order_id=1)
    assert rows == [
        {
            "order_id": 1,
            "status": "confirmed",
            "order_total": order["total"],
            "currency": "DKK",
            "tickets": order["quantity"],
            "sum_of_lines": order["total"],
            "totals_agree": True,
        }
    ]


def test_user_orders_lists_items_newest_first(seeded, sql):
    rows = run_file(sql, "week2_user_orders.sql", user_id=1)
    assert len(rows) >= 3
    assert [row["created_at"] for row in rows] == sorted(
        (row["created_at"] for row in rows), reverse=True
    )
    assert all(row["line_total"] == row["unit_price"] * row["quantity"] for row in rows)
    assert isinstance(rows[0]["total"], Decimal)
