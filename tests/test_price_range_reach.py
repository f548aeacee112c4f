"""How much PostgreSQL one anonymous client can make a price-range listing read.

A price range is planned with its values (`listing_json`), so PostgreSQL reads the range from
the price index and sorts it when it is narrow. A plan that walked the sort's index checking each
event's price instead (tried in session 6, reverted) let a deep page of a range just over 1 000
matches walk most of the upcoming catalogue to skip the earlier matches: ~100 000 index entries
for one page, from any anonymous client. Counted here as the index entries PostgreSQL returned
during one request (this transaction's stats)."""

import pytest

INDEX_ENTRIES_READ = (
    "SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0) AS n"
    " FROM pg_index WHERE indrelid = 'event'::regclass"
)


def insert_priced_concerts(sql, make, count: int) -> None:
    """`count` upcoming concerts, one tier each, priced 100-399 by id, in a catalogue of their
    own: TRUNCATE (undone with the test's transaction) gives `event` fresh files, so the dead
    index entries that earlier tests' rolled-back rows left behind are not counted here."""
    sql("TRUNCATE event CASCADE")
    like = make.event()
    sql(
        "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status)"
        " SELECT 'Concert ' || md5(n::text), now() + n * interval '1 hour',"
        "  now() + n * interval '1 hour' + interval '2 hours', :venue, :category,"
        "  'published' FROM generate_series(1, :count) AS n",
        venue=like.venue_id,
        category=like.category_id,
        count=count,
    )
    sql(
        "INSERT INTO ticket_type (event_id, currency, name, price, capacity)"
        " SELECT id, currency, 'Standard', 100 + id % 300, 100 FROM event"
        " WHERE title LIKE 'Concert %'"
    )
    sql("ANALYZE event")


@pytest.mark.parametrize("sort", ["title", "startsAt", "-startsAt"])
def test_a_deep_page_of_a_range_just_over_1000_reads_about_its_matches_not_the_catalogue(
    client, make, sql, sort
):
    insert_priced_concerts(sql, make, 30_000)
    query = {"minPrice": "100", "maxPrice": "110", "sort": sort}
    first = client.get("/api/events", query_string=query).get_json()
    matches = first["meta"]["totalItems"]
    assert 1000 < matches < 1200
    before = sql(INDEX_ENTRIES_READ)[0]["n"]
    last = client.get("/api/events", query_string={**query, "page": (matches + 19) // 20})
    read = sql(INDEX_ENTRIES_READ)[0]["n"] - before
    assert last.status_code == 200 and last.get_json()["data"]
    assert read <= 10 * matches, f"{read} index entries read for one page of {matches} matches"
