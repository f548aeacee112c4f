"""A search reads the full-text index one fortnight at a time (migration 0009,
`event.search_periods`, shop.services.catalog._search_page): it must still find every listed
match, in every fortnight, and nothing else, however events move between fortnights."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from shop.extensions import db
from tests.factories import now


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["data"]]


def test_a_search_finds_its_matches_in_every_fortnight_and_nothing_else(client, make):
    def harbour(days: float, status: str = "published") -> int:
        starts_at = now() + timedelta(days=days)
        return make.event(title=f"Harbour {days}", starts_at=starts_at, status=status).id

    started_an_hour_ago = harbour(-1 / 24)  # this fortnight, but no longer listed
    past = harbour(-10)
    upcoming = [harbour(1 / 24), harbour(3), harbour(10), harbour(45), harbour(200)]
    harbour(5, status="draft")
    harbour(6, status="cancelled")
    make.event(title="Something else", starts_at=now() + timedelta(days=3))

    assert ids(client.get("/api/events?q=harb")) == upcoming
    body = client.get("/api/events?q=harbour&sort=-startsAt").get_json()
    assert [item["id"] for item in body["data"]] == upcoming[::-1]
    assert body["meta"]["totalItems"] == 5
    # `from` in the past widens the search to the fortnights it reaches back to.
    since = (now() - timedelta(days=15)).date().isoformat()
    assert ids(client.get(f"/api/events?q=harb&from={since}")) == [
        past,
        started_an_hour_ago,
        *upcoming,
    ]


def test_a_search_follows_events_to_other_fortnights_and_new_words(app, client, make):
    """`search_periods` is generated from the start and the words: moving an event to another
    fortnight, or renaming its venue's city, moves its entries in the index at once."""
    venue = make.venue(city="Odense")
    event = make.event(title="Organ night", venue_id=venue.id, starts_at=now() + timedelta(days=2))
    assert ids(client.get("/api/events?q=organ")) == [event.id]
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE event SET starts_at = starts_at + interval '120 days',"
                " ends_at = ends_at + interval '120 days' WHERE id = :id"
            ),
            {"id": event.id},
        )
        db.session.execute(text("UPDATE venue SET city = 'Vejle' WHERE id = :id"), {"id": venue.id})
        db.session.commit()
    assert ids(client.get("/api/events?q=organ vejle")) == [event.id]
    assert ids(client.get("/api/events?q=organ odense")) == []


def test_only_stop_words_match_nothing(client, make):
    make.event(title="The show")
    response = client.get("/api/events?q=the")
    assert ids(response) == []
    assert response.get_json()["meta"]["totalItems"] == 0


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("'jaz':*", True),
        ("'jazz' & 'o''neil'", True),
        ("'o''n':*", True),
        ("'a/c' & 'jazz':*", True),
        ("'a':*", True),
        ("'c':*", False),  # 'a/c' is one lexeme: no word starts with c
        ("'jazz' & 'polka'", False),
        ("'jazz' | 'polka'", True),
        ("'jazz' <-> 'o''neil'", True),
        ("'o''neil' <-> 'jazz'", False),
    ],
)
def test_a_period_query_finds_in_a_period_vector_what_the_query_finds_in_the_vector(
    app, query, matches
):
    """The words of an event's period are its own words tagged with the period: a query tagged
    with the same period matches exactly when the untagged query matches the untagged words
    (quotes, slashes and positions included), and a query tagged with another period never
    matches."""
    vector = "'jazz':1 'o''neil':2 'a/c':3"

    def tagged(vector_period: int, query_period: int) -> str:
        return (
            f"event_period_search_vector({vector_period}, CAST(:vector AS tsvector)) @@"
            f" event_period_search_query({query_period},"
            " event_period_search_template(CAST(:query AS tsquery)))"
        )

    with app.app_context():
        row = db.session.execute(
            text(
                "SELECT CAST(:vector AS tsvector) @@ CAST(:query AS tsquery) AS plain,"
                f" {tagged(1484, 1484)} AS same_period, {tagged(1484, 1485)} AS next_period,"
                f" {tagged(14840, 1484)} AS longer_period"
            ),
            {"vector": vector, "query": query},
        ).one()
    assert row.plain is matches
    assert row.same_period is matches
    assert row.next_period is False and row.longer_period is False


def test_periods_are_counted_in_utc_from_the_epoch(app):
    """Whatever the session's time zone: a period is 14 × 24 h from 1970-01-01 00:00 UTC."""
    with app.app_context():
        db.session.execute(text("SET LOCAL TIME ZONE 'America/Los_Angeles'"))
        periods = db.session.execute(
            text(
                "SELECT event_search_period(timestamptz '1970-01-01 00:00:00+00'),"
                " event_search_period(timestamptz '1970-01-14 23:59:59.999999+00'),"
                " event_search_period(timestamptz '1970-01-15 00:00:00+00'),"
                " event_search_period(timestamptz '1969-12-31 23:59:59+00'),"
                " event_search_period(timestamptz '2026-11-28 12:00:00+01')"
            )
        ).one()
        db.session.rollback()
    assert tuple(periods) == (0, 0, 1, -1, 1484)
