"""Review attacks on price-range totals while admins change the catalogue at once (separate
connections, committed): tiers repriced to shared prices, events moved between days, tiers
added and deleted, events cancelled and published, all concurrently. No deadlock, no 5xx, and
afterwards every price range's pages and totals equal the plain definition (and any table a
branch keeps to count prices agrees with a recount)."""

import random
from datetime import timedelta

import pytest

from tests.factories import now
from tests.helpers import run_in_threads, violations

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]


@pytest.fixture
def admin(make, auth):
    return auth.headers(make.user(role="admin"))


def plain(sql, low, high):
    return [
        r["id"]
        for r in sql(
            "SELECT e.id FROM event e WHERE e.status = 'published' AND e.starts_at >= now()"
            " AND (SELECT min(price) FROM ticket_type t WHERE t.event_id = e.id)"
            " BETWEEN :low AND :high ORDER BY e.starts_at, e.id",
            low=low, high=high,
        )
    ]  # fmt: skip


def test_admins_repricing_and_moving_events_at_once_keep_price_totals_exact(app, make, sql, admin):
    venue, category = make.venue(), make.category()
    base = (now() + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    events, tiers = [], []
    for n in range(8):
        event = make.event(starts_at=base + timedelta(days=n % 2), venue_id=venue.id,
                           category_id=category.id)  # fmt: skip
        events.append(event)
        tiers.append(make.ticket_type(event, price=100 + 10 * (n % 3)))
    prices = ["100.00", "110.00", "120.00", "99.50"]
    rng = random.Random(7)
    plans = [rng.randrange(5) for _ in range(24)]

    def act(i):
        client = app.test_client()
        kind, n = plans[i], i % 8
        if kind == 0:
            r = client.patch(f"/api/admin/ticket-types/{tiers[n].id}",
                             json={"price": rng.choice(prices)}, headers=admin)  # fmt: skip
        elif kind == 1:
            starts = base + timedelta(days=rng.randrange(3), hours=rng.randrange(3))
            r = client.patch(f"/api/admin/events/{events[n].id}", json={
                "startsAt": starts.isoformat(), "endsAt": (starts + timedelta(hours=2)).isoformat()
            }, headers=admin)  # fmt: skip
        elif kind == 2:
            r = client.post(f"/api/admin/events/{events[n].id}/ticket-types", json={
                "name": f"Extra {i}", "price": rng.choice(prices), "capacity": 5,
            }, headers=admin)  # fmt: skip
        elif kind == 3:
            r = client.post(f"/api/admin/events/{events[n].id}/cancel", headers=admin)
        else:
            r = client.patch(f"/api/admin/ticket-types/{tiers[n].id}",
                             json={"price": "100.00"}, headers=admin)  # fmt: skip
        return r.status_code

    for _ in range(2):
        statuses = run_in_threads(24, act)
        assert all(s < 500 for s in statuses), statuses
        assert all(s in (200, 201, 409) for s in statuses), statuses
    client = app.test_client()
    for low, high in [("99.50", "99.50"), ("100", "110"), ("100", "100"), ("0", "1000"),
                      ("110.00", "120.00")]:  # fmt: skip
        want = plain(sql, low, high)
        body = client.get(
            "/api/events", query_string={"minPrice": low, "maxPrice": high, "pageSize": 100}
        ).get_json()
        assert body["meta"]["totalItems"] == len(want), (low, high)
        assert [i["id"] for i in body["data"]] == want, (low, high)
    counters = sql("SELECT to_regclass('published_event_price_day') IS NOT NULL AS present")
    if counters[0]["present"]:
        stored = sql(
            "SELECT price_from, starts_on, events FROM published_event_price_day"
            " WHERE events <> 0 ORDER BY 1, 2"
        )
        recount = sql(
            "SELECT price_from, (starts_at AT TIME ZONE 'UTC')::date AS starts_on,"
            " count(*) AS events FROM event WHERE status = 'published'"
            " AND price_from IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
        )
        assert stored == recount
    assert violations(app) == []
