"""A one-word search counts and sorts its matches from `event_search_word` (migration 0011,
shop.services.catalog._one_word_or_full_text), which database triggers keep equal to the words of
the published events through every change to `event`.

Each test changes events the way the app or an operator can (admin routes, bulk SQL, a venue
renamed, TRUNCATE, a reseed) and compares the table with the events' own words, or compares what
a one-word search finds with what the full-text index finds."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from shop.extensions import db
from tests.factories import now
from tests.helpers import new_event_body, run_together, violations

WORDS_FROM_EVENTS = text(
    "SELECT event_search_period(starts_at), w.lexeme, starts_at, id"
    " FROM event CROSS JOIN unnest(search_vector) AS w WHERE status = 'published'"
)
KEPT_WORDS = text("SELECT period, word, starts_at, event_id FROM event_search_word")


def assert_words_match_events(app) -> set[tuple]:
    """The table holds exactly the published events' words; returns its rows."""
    with app.app_context():
        expected = {tuple(row) for row in db.session.execute(WORDS_FROM_EVENTS)}
        kept = [tuple(row) for row in db.session.execute(KEPT_WORDS)]
        db.session.rollback()
    assert len(kept) == len(set(kept))
    assert set(kept) == expected
    return expected


def run_sql(app, sql, **values):
    with app.app_context():
        db.session.execute(text(sql), values)
        db.session.commit()


def words_of(rows: set[tuple], event_id: int) -> set[str]:
    return {word for _, word, _, event in rows if event == event_id}


@pytest.fixture
def admin(make, auth):
    return auth.headers(make.user(role="admin"))


def test_admin_changes_keep_the_search_words(app, client, make, admin):
    venue, category = make.venue(city="Aarhus"), make.category(name="Opera")
    starts = now() + timedelta(days=20)
    body = new_event_body(venue, category, starts)
    event_id = client.post("/api/admin/events", json=body, headers=admin).get_json()["data"]["id"]
    assert assert_words_match_events(app) == set()  # a draft is not listed
    tiers = f"/api/admin/events/{event_id}/ticket-types"
    tier = {"name": "Standard", "price": "450.00", "capacity": 100}
    assert client.post(tiers, json=tier, headers=admin).status_code == 201
    assert client.post(f"/api/admin/events/{event_id}/publish", headers=admin).status_code == 200
    assert {"gala", "aarhus", "opera"} <= words_of(assert_words_match_events(app), event_id)

    later = starts + timedelta(days=30)  # another fortnight
    moved = client.patch(
        f"/api/admin/events/{event_id}",
        json={
            "title": "Midsummer Ball",
            "startsAt": later.isoformat(),
            "endsAt": (later + timedelta(hours=2)).isoformat(),
        },
        headers=admin,
    )
    assert moved.status_code == 200
    words = words_of(assert_words_match_events(app), event_id)
    assert "ball" in words and "gala" not in words
    assert client.get("/api/events?q=midsum").get_json()["meta"]["totalItems"] == 1
    assert client.get("/api/events?q=gala").get_json()["meta"]["totalItems"] == 0

    assert client.post(f"/api/admin/events/{event_id}/cancel", headers=admin).status_code == 200
    assert assert_words_match_events(app) == set()
    assert client.get("/api/events?q=midsum").get_json()["meta"]["totalItems"] == 0


def test_bulk_writes_a_renamed_venue_and_deletes_keep_the_search_words(app, make):
    venue, category = make.venue(city="Odense"), make.category()
    run_sql(
        app,
        "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status)"
        " SELECT 'Bulk ' || n || ' harbour', now() + n * interval '7 hours',"
        "  now() + n * interval '7 hours' + interval '1 hour', :venue, :category,"
        "  CASE WHEN n % 5 = 0 THEN 'draft' ELSE 'published' END"
        " FROM generate_series(1, 200) AS n",
        venue=venue.id,
        category=category.id,
    )
    assert len({row[3] for row in assert_words_match_events(app)}) == 160
    # Drafts published, some events moved by weeks (other fortnights), titles changed: one
    # statement, rows both keeping and changing their words.
    run_sql(
        app,
        "UPDATE event SET status = 'published',"
        " starts_at = starts_at + CASE WHEN id % 3 = 0 THEN interval '20 days' ELSE '0' END,"
        " ends_at = ends_at + CASE WHEN id % 3 = 0 THEN interval '20 days' ELSE '0' END,"
        " title = CASE WHEN id % 2 = 0 THEN title || ' lighthouse' ELSE title END",
    )
    assert len({row[3] for row in assert_words_match_events(app)}) == 200
    # A venue's new city is in its events' words (a trigger rewrites their search_vector).
    run_sql(app, "UPDATE venue SET city = 'Svendborg' WHERE id = :venue", venue=venue.id)
    rows = assert_words_match_events(app)
    assert "svendborg" in {row[1] for row in rows} and "odens" not in {row[1] for row in rows}
    run_sql(app, "UPDATE event SET status = 'cancelled' WHERE id % 4 = 0")
    run_sql(app, "DELETE FROM event WHERE id % 7 = 0")
    assert_words_match_events(app)


def test_a_change_that_keeps_the_words_leaves_the_rows_alone(app, make):
    """Repricing a tier updates the event (price_from) and so does any other column: only a
    change of status, start or words rewrites the event's rows."""
    event = make.event(title="Quiet quartet")
    tier = make.ticket_type(event=event)
    positions = text("SELECT ctid::text FROM event_search_word WHERE event_id = :id ORDER BY 1")
    with app.app_context():
        before = db.session.execute(positions, {"id": event.id}).scalars().all()
        db.session.rollback()
    run_sql(app, "UPDATE ticket_type SET price = price + 1 WHERE id = :tier", tier=tier.id)
    run_sql(
        app, "UPDATE event SET image_url = 'https://example.com/q.jpg' WHERE id = :id", id=event.id
    )
    with app.app_context():
        after = db.session.execute(positions, {"id": event.id}).scalars().all()
        db.session.rollback()
    assert before and after == before
    assert_words_match_events(app)


def test_truncating_events_empties_the_search_words(app, make):
    make.event()
    assert assert_words_match_events(app)
    run_sql(app, "TRUNCATE event CASCADE")
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM event_search_word")).scalar() == 0
        db.session.rollback()


def test_seeding_and_reseeding_keep_the_search_words(app, runner, make):
    """`flask seed` bulk-loads events with COPY after a TRUNCATE; both fire the triggers."""
    make.event(title="Left over from before")
    result = runner.invoke(args=["seed", "--reset", "--events", "60"])
    assert result.exit_code == 0, result.output
    assert assert_words_match_events(app)


def test_a_prefix_of_two_words_of_one_event_finds_it_once(client, make):
    """ "cop" is a prefix of two of this event's words: one match, not two."""
    event = make.event(title="Copper Copenhagen copycats", starts_at=now() + timedelta(days=3))
    body = client.get("/api/events?q=cop").get_json()
    assert [item["id"] for item in body["data"]] == [event.id]
    assert body["meta"]["totalItems"] == 1


@pytest.mark.parametrize("sort", ["startsAt", "-startsAt"])
def test_a_one_word_search_finds_what_the_full_text_index_finds(
    app, client, make, sort, monkeypatch
):
    """Over the cap (monkeypatched to 5) and under it, in both orders, every page of a one-word
    search equals the events whose words the tsquery matches, sorted the same way."""
    import shop.services.catalog as catalog

    monkeypatch.setattr(catalog, "MAX_SEARCH_MATCHES", 5)
    venue = make.venue(city="Ribe")
    for days in (1, 2, 9, 15, 16, 30, 31, 45, 60):
        make.event(
            title=f"Lantern walk {days}", venue=venue, starts_at=now() + timedelta(days=days)
        )
        make.event(title=f"Lanterns {days}", starts_at=now() + timedelta(days=days, hours=1))
    make.event(title="Lantern walk", starts_at=now() - timedelta(days=2))  # started
    make.event(title="Lantern draft", status="draft")
    with app.app_context():
        expected = (
            db.session.execute(
                text(
                    "SELECT id FROM event WHERE status = 'published' AND starts_at >= now()"
                    " AND search_vector @@ to_tsquery('shop_search', 'lant:*')"
                    " ORDER BY starts_at, id"
                )
            )
            .scalars()
            .all()
        )
        db.session.rollback()
    if sort == "-startsAt":
        expected.reverse()
    pages = []
    for page in (1, 2, 3):
        body = client.get(f"/api/events?q=lant&sort={sort}&pageSize=2&page={page}").get_json()
        assert body["meta"]["totalItems"] == 5
        pages += [item["id"] for item in body["data"]]
    assert pages == expected[:5]
    monkeypatch.setattr(catalog, "MAX_SEARCH_MATCHES", 1000)
    body = client.get(f"/api/events?q=lant&sort={sort}&pageSize=100").get_json()
    assert body["meta"]["totalItems"] == len(expected) == 18
    assert [item["id"] for item in body["data"]] == expected


def test_a_one_word_query_has_a_prefix_and_others_have_none(app):
    """Only a tsquery of one prefix word reads the words' table (the rest read the full-text
    index); its prefix's range ends at the next string in byte order."""
    with app.app_context():

        def value(sql: str):
            return db.session.execute(text(sql)).scalar()

        prefix = "SELECT event_search_single_prefix(to_tsquery('shop_search', :q))"
        assert value(prefix.replace(":q", "'Concerts:*'")) == "concert"
        assert value(prefix.replace(":q", "'københavn:*'")) == "kobenhavn"
        assert value(prefix.replace(":q", "'jazz:* & cop:*'")) is None
        assert value(prefix.replace(":q", "'foo_bar:*'")) is None  # a phrase
        assert value(prefix.replace(":q", "'the:*'")) is None  # only a stop word
        assert value("SELECT event_search_prefix_end('jaz')") == "ja{"
        assert value("SELECT event_search_prefix_end('kø')") == "kù"
        assert value("SELECT 'jazzy' COLLATE \"C\" < event_search_prefix_end('jaz')")
        assert value("SELECT 'jb' COLLATE \"C\" >= event_search_prefix_end('ja')")
        db.session.rollback()


def test_prefix_words_become_the_exact_words_they_stand_for(app, make):
    """A search's prefix words reach the full-text index as the published words they are a
    prefix of (`event_search_exact_query`): 1 to 8 of them as alternatives, otherwise the
    prefix as typed (none: it matches nothing either way; more: the alternatives would cost
    more than the prefix)."""
    make.event(title="Nightjar nights at the Kolding harbour")
    for n in range(9):
        make.event(title=f"Zebra{'abcdefghi'[n]}x parade")
    with app.app_context():

        def exact(typed: str) -> str:
            return db.session.execute(
                text("SELECT event_search_exact_query(to_tsquery('shop_search', :q))::text"),
                {"q": typed},
            ).scalar()

        assert exact("nigh:* & kold:*") == "( 'night' | 'nightjar' ) & 'kold'"
        assert exact("harb:*") == "'harbour'"
        assert exact("zebra:*") == "'zebra':*"  # 9 words
        assert exact("zebraa:* & parade:*") == "'zebraax' & 'parad'"
        assert exact("qwxz:*") == "'qwxz':*"  # no such word
        assert exact("foo_nigh:*") == "'foo':* <-> ( 'night' | 'nightjar' )"  # a phrase
        db.session.rollback()


def test_a_new_word_is_found_by_a_prefix_that_already_stood_for_others(client, make, admin):
    """ "zyx" stood for "zyxtar" alone; an event published later with "zyxwool" must be found by
    "zyx gala" too: the triggers add its words to event_search_lexeme."""
    first = make.event(title="Zyxtar gala", starts_at=now() + timedelta(days=2))
    assert [e["id"] for e in client.get("/api/events?q=zyx gala").get_json()["data"]] == [first.id]
    later = make.event(title="Zyxwool gala", starts_at=now() + timedelta(days=3), status="draft")
    make.ticket_type(event=later)
    assert client.post(f"/api/admin/events/{later.id}/publish", headers=admin).status_code == 200
    found = client.get("/api/events?q=zyx gala").get_json()
    assert [event["id"] for event in found["data"]] == [first.id, later.id]
    assert found["meta"]["totalItems"] == 2


def test_a_search_of_several_words_reads_them_as_exact_words(app):
    """The statement hands the fortnights' read the query with exact words."""
    from sqlalchemy.dialects import postgresql

    from shop.catalog.json_bodies import listing_json_statement
    from shop.services.catalog import EventFilters

    statement = listing_json_statement(EventFilters(q="nigh kold"))
    sql = str(statement.compile(dialect=postgresql.psycopg.dialect()))
    assert "event_period_search_template(event_search_exact_query(" in sql


@pytest.mark.concurrent
@pytest.mark.usefixtures("committed")
def test_concurrent_admin_edits_that_add_the_same_new_words_keep_the_search_words(app, make, admin):
    """Twelve admins rename twelve events at the same moment, every new title bringing the same
    two words the catalogue never had (so every trigger inserts them into event_search_lexeme at
    once), half of them also moving their event to another fortnight: every edit succeeds (no
    deadlock, no 5xx), the words table equals the events' words, `flask check` finds nothing, and
    a prefix of the new word finds all twelve."""
    events = [make.event(title=f"Quiet evening {i}") for i in range(12)]

    def rename(i, event):
        def act():
            body = {"title": f"Zorblat quuxbar evening {i}"}
            if i % 2:
                body["startsAt"] = (event.starts_at + timedelta(days=30)).isoformat()
                body["endsAt"] = (event.starts_at + timedelta(days=30, hours=2)).isoformat()
            response = app.test_client().patch(
                f"/api/admin/events/{event.id}", json=body, headers=admin
            )
            return response.status_code

        return act

    statuses = run_together([rename(i, event) for i, event in enumerate(events)])

    assert statuses == [200] * 12
    assert_words_match_events(app)
    assert violations(app) == []
    found = app.test_client().get("/api/events?q=quuxb&pageSize=20").get_json()
    assert found["meta"]["totalItems"] == 12
    assert {item["id"] for item in found["data"]} == {event.id for event in events}
