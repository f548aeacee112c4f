"""Review: a venue or category renamed while an admin moves an event into it (or creates one
in it), both uncommitted at the same moment, on committed data: afterwards the listing shows
the event with the name as it is now (the plain definition joins venue and category live), and
`flask check` is clean. The rename's transaction is held open at the exact point (SQL on a
connection of its own) while the other admin's request runs and commits; the rename commits
after it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from shop.extensions import db
from tests.factories import now
from tests.helpers import WAITING_FOR_A_LOCK_SQL, new_event_body, violations
from tests.test_listing_equals_plain_definition import check_detail, check_listing

pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("committed")]


@pytest.fixture
def places(make, auth):
    old_venue = make.venue(name="Old hall", city="Moveton")
    new_venue = make.venue(name="New hall", city="Moveton")
    old_kind = make.category(slug="old-kind", name="Old kind")
    new_kind = make.category(slug="new-kind", name="New kind")
    events = []
    for i, (venue, kind) in enumerate([(old_venue, old_kind), (new_venue, new_kind)] * 2):
        event = make.event(
            title=f"Moving {i}", starts_at=now() + timedelta(days=2 + i), venue_id=venue.id,
            category_id=kind.id,
        )  # fmt: skip
        make.ticket_type(event, price=Decimal("12.00"), capacity=5)
        events.append(event)
    return {
        "old_venue": old_venue, "new_venue": new_venue, "old_kind": old_kind,
        "new_kind": new_kind, "events": events, "admin": auth.headers(make.user(role="admin")),
    }  # fmt: skip


def while_renamed(app, rename_sql: str, request):
    """Run `rename_sql` in a transaction of its own, then `request()` (in a thread, up to 10 s)
    while that transaction is still open, then commit the rename. Returns the response."""
    with app.app_context():
        engine = db.engine
    outcome: list = []
    with engine.connect() as renamer:
        renamer.execute(text(rename_sql))
        worker = threading.Thread(target=lambda: outcome.append(request()))
        worker.start()
        # Until it finishes or waits for a lock the rename holds (then it goes on after the
        # commit: the names are in unique keys, so the rename's row lock is a FOR UPDATE that
        # the event's foreign key check waits for).
        with engine.connect() as watcher:
            deadline = time.monotonic() + 5
            while worker.is_alive() and time.monotonic() < deadline:
                if watcher.execute(text(WAITING_FOR_A_LOCK_SQL)).scalar():
                    break
                watcher.rollback()
                time.sleep(0.01)
        renamer.commit()
    worker.join(timeout=10)
    assert outcome, "the request did not finish"
    return outcome[0]


def check_all(client, sql, places):
    for params in ({}, {"city": "moveton"}, {"category": "new-kind"}, {"category": "old-kind"},
                   {"sort": "title"}, {"q": "moving"}):  # fmt: skip
        check_listing(client, sql, params, page_sizes=(20,))
    for event in places["events"]:
        check_detail(client, sql, event.id)


@pytest.mark.parametrize("what", ["venue", "category"])
def test_an_event_moved_into_a_place_being_renamed_lists_the_new_name(
    app, client, sql, places, what
):
    event = places["events"][0]
    if what == "venue":
        rename = f"UPDATE venue SET name = 'Renamed hall' WHERE id = {places['new_venue'].id}"
        body = {"venueId": places["new_venue"].id}
    else:
        rename = f"UPDATE category SET name = 'Renamed kind' WHERE id = {places['new_kind'].id}"
        body = {"categoryId": places["new_kind"].id}
    moved = while_renamed(
        app,
        rename,
        lambda: app.test_client().patch(
            f"/api/admin/events/{event.id}", json=body, headers=places["admin"]
        ),
    )
    assert moved.status_code == 200, moved.get_json()
    check_all(client, sql, places)
    assert violations(app) == []


@pytest.mark.parametrize("what", ["venue", "category"])
def test_an_event_created_in_a_place_being_renamed_lists_the_new_name(
    app, client, sql, places, what
):
    body = new_event_body(places["new_venue"], places["new_kind"], now() + timedelta(days=5),
                          title="Moving new")  # fmt: skip
    table, place = ("venue", places["new_venue"]) if what == "venue" else (
        "category", places["new_kind"])  # fmt: skip
    created = while_renamed(
        app,
        f"UPDATE {table} SET name = 'Renamed {table}' WHERE id = {place.id}",
        lambda: app.test_client().post("/api/admin/events", json=body, headers=places["admin"]),
    )
    assert created.status_code == 201, created.get_json()
    new_id = created.get_json()["data"]["id"]
    admin = places["admin"]
    tier = client.post(
        f"/api/admin/events/{new_id}/ticket-types",
        json={"name": "Std", "price": "9.00", "capacity": 3},
        headers=admin,
    )
    assert tier.status_code == 201
    assert client.post(f"/api/admin/events/{new_id}/publish", headers=admin).status_code == 200
    check_all(client, sql, places)
    check_detail(client, sql, new_id)
    assert violations(app) == []


def test_the_seed_on_top_of_a_catalogue_lists_by_the_plain_definition(app, runner, client, sql,
                                                                      places):  # fmt: skip
    result = runner.invoke(args=["seed", "--events", "30"])
    assert result.exit_code == 0, result.output
    check_all(client, sql, places)
    check_listing(client, sql, {"sort": "price"}, page_sizes=(20,))
    assert violations(app) == []
