"""A deep page of every upcoming event, soonest or latest first, starts at the day that holds it
(`shop.services.catalog.skip_days`): the day counts of `published_event_day` say how many events
each day holds, so the walk does not read every event before the page to throw it away.

The pages must be the ones a plain walk finds (events today, before and after now, every day
boundary, drafts and other events that are not listed), and the walk must be about a day's
events long, whatever the page."""

import pytest

INDEX_ENTRIES_READ = (
    "SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0) AS n"
    " FROM pg_index WHERE indrelid = 'event'::regclass"
)

# The listing's order, walked plainly: what every page must show.
PLAIN_WALK = (
    "SELECT id FROM event WHERE status = 'published' AND starts_at >= now()"
    " ORDER BY starts_at {direction}, id {direction}"
)


def insert_days_of_concerts(sql, make, days: int, per_day: int) -> None:
    """`per_day` published concerts on each of `days` days from today (UTC), at hours spread
    over the day (some of today's before now, some after; several at the same moment, so ids
    break ties), and a draft and a cancelled concert on each day."""
    like = make.event()
    sql(
        "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status)"
        " SELECT 'Concert ' || d || '/' || n,"
        "  date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        "   + d * interval '1 day' + (n % 24) * interval '1 hour',"
        "  date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        "   + d * interval '1 day' + (n % 24) * interval '1 hour' + interval '2 hours',"
        "  :venue, :category, CASE n WHEN 0 THEN 'draft' WHEN 1 THEN 'cancelled'"
        "   ELSE 'published' END"
        " FROM generate_series(0, :days - 1) AS d, generate_series(0, :per_day + 1) AS n",
        venue=like.venue_id,
        category=like.category_id,
        days=days,
        per_day=per_day,
    )
    sql("ANALYZE event")


@pytest.mark.parametrize("sort", ["startsAt", "-startsAt"])
def test_every_page_of_every_event_is_the_page_a_plain_walk_finds(client, make, sql, sort):
    insert_days_of_concerts(sql, make, days=12, per_day=30)
    direction = "DESC" if sort.startswith("-") else "ASC"
    listed = [row["id"] for row in sql(PLAIN_WALK.format(direction=direction))]
    page_size = 17  # pages that straddle the days' boundaries
    pages = (len(listed) + page_size - 1) // page_size
    for page in range(1, pages + 1):
        body = client.get(
            "/api/events", query_string={"sort": sort, "page": page, "pageSize": page_size}
        ).get_json()
        expected = listed[(page - 1) * page_size : page * page_size]
        assert [event["id"] for event in body["data"]] == expected, f"page {page}"
        assert body["meta"]["totalItems"] == len(listed)


@pytest.mark.parametrize("sort", ["startsAt", "-startsAt"])
def test_a_deep_page_walks_about_a_days_events_not_every_event_before_it(client, make, sql, sort):
    insert_days_of_concerts(sql, make, days=60, per_day=40)
    query = {"sort": sort, "page": 100}  # events 1 981-2 000 of ~2 380
    client.get("/api/events", query_string=query)  # planned and prepared alike
    before = sql(INDEX_ENTRIES_READ)[0]["n"]
    body = client.get("/api/events", query_string=query).get_json()
    read = sql(INDEX_ENTRIES_READ)[0]["n"] - before
    assert len(body["data"]) == 20
    # Walking to the page read over 2 000 index entries. Now: the page's day (40 events),
    # today's rest (40 at most) and the page's 20 events by id; ~140 entries on PostgreSQL 18,
    # ~230 on 15 (which counts its index reads differently).
    assert read <= 400, f"{read} index entries read for page 100"


def test_a_deep_page_of_a_category_still_walks_and_shows_the_same_events(client, make, sql):
    """Only every event skips days; a category's deep page is walked (and is right)."""
    insert_days_of_concerts(sql, make, days=12, per_day=30)
    slug = sql("SELECT slug FROM category JOIN event ON event.category_id = category.id"
               " WHERE title LIKE 'Concert %' LIMIT 1")[0]["slug"]  # fmt: skip
    listed = [row["id"] for row in sql(PLAIN_WALK.format(direction="ASC"))]
    body = client.get("/api/events", query_string={"category": slug, "page": 15}).get_json()
    assert [event["id"] for event in body["data"]] == listed[280:300]
