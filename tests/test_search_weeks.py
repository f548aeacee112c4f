"""A search reads the full-text index one week at a time (migration 0008, `event.search_weeks`,
shop.services.catalog._search_page): it must still find every listed match, in every week, and
nothing else, however events move between weeks."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from shop.extensions import db
from tests.factories import now


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["data"]]


def test_a_search_finds_its_matches_in_every_week_and_nothing_else(client, make):
    def harbour(days: float, status: str = "published") -> int:
        starts_at = now() + timedelta(days=days)
        return make.event(title=f"Harbour {days}", starts_at=starts_at, status=status).id

    started_an_hour_ago = harbour(-1 / 24)  # this week, but no longer listed
    past = harbour(-10)
    upcoming = [harbour(1 / 24), harbour(3), harbour(10), harbour(45), harbour(200)]
    harbour(5, status="draft")
    harbour(6, status="cancelled")
    make.event(title="Something else", starts_at=now() + timedelta(days=3))

    assert ids(client.get("/api/events?q=harb")) == upcoming
    body = client.get("/api/events?q=harbour&sort=-startsAt").get_json()
    assert [item["id"] for item in body["data"]] == upcoming[::-1]
    assert body["meta"]["totalItems"] == 5
    # `from` in the past widens the search to the weeks it reaches back to.
    since = (now() - timedelta(days=15)).date().isoformat()
    assert ids(client.get(f"/api/events?q=harb&from={since}")) == [
        past,
        started_an_hour_ago,
        *upcoming,
    ]


def test_a_search_follows_events_to_other_weeks_and_new_words(app, client, make):
    """`search_weeks` is generated from the start and the words: moving an event to another
    week, or renaming its venue's city, moves its entries in the index at once."""
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
def test_a_week_query_finds_in_a_week_vector_what_the_query_finds_in_the_vector(
    app, query, matches
):
    """The words of an event's week are its own words tagged with the week: a query tagged with
    the same week matches exactly when the untagged query matches the untagged words (quotes,
    slashes and positions included), and a query tagged with another week never matches."""
    vector = "'jazz':1 'o''neil':2 'a/c':3"

    def tagged(vector_week: int, query_week: int) -> str:
        return (
            f"event_week_search_vector({vector_week}, CAST(:vector AS tsvector)) @@"
            f" event_week_search_query({query_week},"
            " event_week_search_template(CAST(:query AS tsquery)))"
        )

    with app.app_context():
        row = db.session.execute(
            text(
                "SELECT CAST(:vector AS tsvector) @@ CAST(:query AS tsquery) AS plain,"
                f" {tagged(2969, 2969)} AS same_week, {tagged(2969, 2970)} AS next_week,"
                f" {tagged(29690, 2969)} AS longer_week"
            ),
            {"vector": vector, "query": query},
        ).one()
    assert row.plain is matches
    assert row.same_week is matches
    assert row.next_week is False and row.longer_week is False


def test_weeks_are_counted_in_utc_from_the_epoch(app):
    """Whatever the session's time zone: a week is 7 × 24 h from 1970-01-01 00:00 UTC."""
    with app.app_context():
        db.session.execute(text("SET LOCAL TIME ZONE 'America/Los_Angeles'"))
        weeks = db.session.execute(
            text(
                "SELECT event_search_week(timestamptz '1970-01-01 00:00:00+00'),"
                " event_search_week(timestamptz '1970-01-07 23:59:59.999999+00'),"
                " event_search_week(timestamptz '1970-01-08 00:00:00+00'),"
                " event_search_week(timestamptz '1969-12-31 23:59:59+00'),"
                " event_search_week(timestamptz '2026-11-28 12:00:00+01')"
            )
        ).one()
        db.session.rollback()
    assert tuple(weeks) == (0, 0, 1, -1, 2969)
