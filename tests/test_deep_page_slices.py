"""Every page of the upcoming listing, soonest or latest first, is the Nth slice
of the plain order (starts_at, then id, the same direction), through the day skip (offsets >= 200),
with events today after now, at midnight UTC, many on one day, ties on the start, and a day's
events moved, unpublished, cancelled and deleted between reads."""

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select, text

from shop.extensions import db
from shop.models import Event
from tests.factories import now


def plain_order(app, descending):
    with app.app_context():
        rows = db.session.execute(
            select(Event.id, Event.starts_at).where(
                Event.status == "published", Event.starts_at >= db.func.now()
            )
        ).all()
        db.session.rollback()
    rows.sort(key=lambda r: (r.starts_at, r.id), reverse=descending)
    return [r.id for r in rows]


def listed(client, sort, page, size):
    body = client.get(
        "/api/events", query_string={"sort": sort, "page": page, "pageSize": size}
    ).get_json()
    return [item["id"] for item in body["data"]], body["meta"]["totalItems"]


def check_every_page(app, client):
    for sort, descending in (("startsAt", False), ("-startsAt", True)):
        expected = plain_order(app, descending)
        for size in (7, 20, 100):
            for page in range(1, len(expected) // size + 3):
                got, total = listed(client, sort, page, size)
                want = expected[(page - 1) * size : page * size]
                assert (sort, size, page, got, total) == (sort, size, page, want, len(expected))


def test_every_deep_page_is_the_plain_slice(app, client, make):
    venue, category = make.venue(), make.category()
    current = now()
    today_midnight = datetime.combine(current.date(), time(), tzinfo=UTC)
    tomorrow = today_midnight + timedelta(days=1)
    starts = []
    starts += [current + timedelta(minutes=1 + i) for i in range(30)]  # today's rest
    starts += [current - timedelta(minutes=5 + i) for i in range(5)]  # today, past
    starts += [tomorrow] * 12 + [tomorrow - timedelta(microseconds=1)] * 3  # midnight and ties
    for day in range(1, 12):
        starts += [tomorrow + timedelta(days=day, hours=h % 24) for h in range(0, 24 * 2, 2)]
        starts += [tomorrow + timedelta(days=day)] * 2
    ids = [make.event(starts_at=s, venue_id=venue.id, category_id=category.id).id for s in starts]
    check_every_page(app, client)

    # changes between reads: moved across days and past now, unpublished, cancelled, deleted
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE event SET starts_at = starts_at + interval '3 days',"
                " ends_at = ends_at + interval '3 days' WHERE id = ANY(:a)"
            ),
            {"a": ids[50:80]},
        )
        db.session.execute(
            text("UPDATE event SET starts_at = now() - interval '1 minute' WHERE id = ANY(:a)"),
            {"a": ids[100:110]},
        )
        db.session.execute(
            text("UPDATE event SET status = 'draft' WHERE id = ANY(:a)"), {"a": ids[120:130]}
        )
        db.session.execute(
            text("UPDATE event SET status = 'cancelled' WHERE id = ANY(:a)"), {"a": ids[140:150]}
        )
        db.session.execute(text("DELETE FROM event WHERE id = ANY(:a)"), {"a": ids[160:170]})
        db.session.commit()
    check_every_page(app, client)
