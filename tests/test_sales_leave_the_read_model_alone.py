"""Review: what buyers do (holds taken, changed, released and lapsed, a checkout, a refused
checkout, a check-in, an order cancelled) writes no row of any trigger-kept table (main's
`published_event_day`, `event_search_word`, and every table a branch adds) and calls no trigger
function that main does not call for it: seats are read live, so a sale must cost the read
model nothing. Rows are compared by their physical address and version (`ctid`, `xmin`): any
UPDATE, even one that writes the same values, gives a row a new one. Admin edits, the positive
control, do change the kept tables."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import now
from tests.helpers import violations
from tests.test_flask_check_kept_tables import kept_tables
from tests.test_listing_equals_plain_definition import check_detail, check_listing

# Trigger functions main calls (and how often) while the buyers below hold, buy, check in and
# cancel (recorded on main 762aa3e): a branch may call fewer, never others or more.
CALLED_ON_MAIN_BY_BUYERS: dict[str, int] = {
    "event_refresh_price_from": 2,
    "published_event_day_count": 2,
}


def snapshot(sql) -> dict:
    rows = {
        table: sql(f"SELECT ctid::text AS c, xmin::text AS x FROM {table} ORDER BY ctid")
        for table in kept_tables(sql)
    }
    writes = {
        r["t"]: (r["ins"], r["upd"], r["del"])
        for r in sql(
            "SELECT relname AS t, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del"
            " FROM pg_stat_xact_user_tables WHERE relname = ANY(:t)",
            t=list(rows),
        )
    }
    return {"rows": rows, "writes": writes}


def trigger_calls(sql) -> dict[str, int]:
    return {
        r["f"]: r["calls"]
        for r in sql(
            "SELECT s.funcname AS f, s.calls FROM pg_stat_xact_user_functions s"
            " WHERE s.funcid IN (SELECT tgfoid FROM pg_trigger WHERE NOT tgisinternal)"
        )
    }


def may_count_trigger_calls(sql) -> bool:
    """`SET track_functions` is for superusers: a role that only owns its test database (CI's
    run on Debian's PostgreSQL) cannot count trigger calls, and then only the rows are compared."""
    return sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")[0]["rolsuper"]


@pytest.fixture
def shop(make, auth, sql):
    counts_calls = may_count_trigger_calls(sql)
    if counts_calls:
        sql("SET track_functions = 'pl'")
    venue = make.venue(name="Kept Hall", city="Keptville")
    category = make.category(slug="kept")
    events = []
    for i in range(3):
        event = make.event(
            title=f"Kept gala {i}", starts_at=now() + timedelta(days=3 + i), venue_id=venue.id,
            category_id=category.id,
        )  # fmt: skip
        events.append(event)
    tiers = [
        make.ticket_type(events[0], price=Decimal("10.00"), capacity=10),
        make.ticket_type(events[0], price=Decimal("30.00"), capacity=4),
        make.ticket_type(events[1], price=Decimal("20.00"), capacity=6),
    ]
    make.ticket_type(events[2], price=Decimal("5.00"), capacity=5)
    buyer = make.user()
    return {
        "counts_calls": counts_calls,
        "events": events,
        "tiers": tiers,
        "buyer": auth.headers(buyer),
        "admin": auth.headers(make.user(role="admin")),
        "other": auth.headers(make.user()),
    }


def test_holds_sales_check_ins_and_cancellations_write_no_kept_row(client, sql, shop, app):
    tiers, me, other = shop["tiers"], shop["buyer"], shop["other"]
    before, calls_before = snapshot(sql), trigger_calls(sql)

    def add(tier, quantity, headers, status=201):
        response = client.post(
            "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": quantity},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == status, response.get_json()
        return response

    steps = []
    add(tiers[0], 2, me)
    add(tiers[1], 4, me)
    add(tiers[2], 1, other)
    guest = add(tiers[2], 2, {})
    steps.append("holds taken")
    line = client.get("/api/cart", headers=me).get_json()["data"]["items"][1]["id"]
    assert (
        client.put(f"/api/cart/items/{line}", json={"quantity": 3}, headers=me).status_code == 200
    )
    steps.append("a hold changed")
    refused = client.post(
        "/api/cart/checkout", json={"expectedTotal": {"amount": "1.00", "currency": "DKK"}},
        headers=me,
    )  # fmt: skip
    assert refused.status_code == 409
    order = client.post("/api/cart/checkout", headers=me)
    assert order.status_code == 201, order.get_json()
    order_body = order.get_json()["data"]
    steps.append("a sale")
    code = order_body["items"][0]["tickets"][0]["code"]
    checked_in = client.post(f"/api/admin/tickets/{code}/check-in", headers=shop["admin"])
    assert checked_in.status_code == 200, checked_in.get_json()
    sql("UPDATE cart SET hold_expires_at = now() - interval '1 minute' WHERE user_id IS NULL")
    add(tiers[0], 1, {"X-Cart-Token": guest.headers["X-Cart-Token"]})
    steps.append("a lapsed hold re-checked")
    cancelled = client.post(f"/api/orders/{order_body['id']}/cancel", headers=me)
    assert cancelled.status_code in (200, 409), cancelled.get_json()
    second = client.post("/api/cart/checkout", headers=other)
    assert second.status_code == 201, second.get_json()
    assert client.delete("/api/cart", headers={"X-Cart-Token": guest.headers["X-Cart-Token"]}
                         ).status_code == 200  # fmt: skip
    after, calls_after = snapshot(sql), trigger_calls(sql)
    assert after == before, steps
    if shop["counts_calls"]:
        new_calls = {f: n - calls_before.get(f, 0) for f, n in calls_after.items()}
        more_than_main = {
            f: n for f, n in new_calls.items() if n > CALLED_ON_MAIN_BY_BUYERS.get(f, 0)
        }
        assert more_than_main == {}, new_calls
    # and what the catalogue shows moved with the seats
    for params in ({}, {"available": "true"}, {"sort": "price"}, {"q": "kept"}):
        check_listing(client, sql, params, page_sizes=(2, 20))
    for event in shop["events"]:
        check_detail(client, sql, event.id)
    assert violations(app) == []


def test_an_admin_edit_does_change_a_kept_table(client, sql, shop):
    """The positive control: the snapshot sees a write (the title's search words change)."""
    before = snapshot(sql)
    event = shop["events"][0]
    response = client.patch(
        f"/api/admin/events/{event.id}", json={"title": "Renamed soirée"}, headers=shop["admin"]
    )
    assert response.status_code == 200
    assert snapshot(sql)["rows"] != before["rows"]
