"""Attacks on the price-range listing: every page and total must equal the plain
definition (published, upcoming, cheapest tier within the range, sorted, ties by id), through
the API, on a prepared statement, and after the catalogue changes under it."""

import pytest

ORDER = {
    "startsAt": "starts_at, id",
    "-startsAt": "starts_at DESC, id DESC",
    "price": "price_from NULLS LAST, id",
    "-price": "price_from DESC NULLS LAST, id DESC",
    "title": "title, id",
}
RANGES = [("100", "200"), ("150", "150"), ("125", None), (None, "125"), ("101", "124")]


def seed(sql, count: int) -> None:
    """`count` events with many ties (start hours, titles, prices), some past, draft,
    cancelled or without a tier (no price)."""
    venue = sql(
        "INSERT INTO venue (name, address, city) VALUES ('V', 'S', 'Copenhagen') RETURNING id"
    )[0]["id"]
    category = sql("INSERT INTO category (slug, name) VALUES ('c-r', 'C') RETURNING id")[0]["id"]
    sql(
        "INSERT INTO event (title, starts_at, ends_at, venue_id, category_id, status, currency)"
        " SELECT 'T' || (n % 7), now() + (n % 50 - 2) * interval '1 hour' + interval '1 minute',"
        "  now() + interval '100 days', :venue, :category,"
        "  CASE WHEN n % 37 = 0 THEN 'draft' WHEN n % 41 = 0 THEN 'cancelled'"
        "  ELSE 'published' END, 'DKK' FROM generate_series(1, :count) AS n",
        venue=venue,
        category=category,
        count=count,
    )
    sql(
        "INSERT INTO ticket_type (event_id, currency, name, price, capacity)"
        " SELECT id, 'DKK', 'A', 100 + (id % 5) * 25, 10 FROM event WHERE id % 13 <> 0"
    )
    sql(
        "INSERT INTO ticket_type (event_id, currency, name, price, capacity)"
        " SELECT id, 'DKK', 'B', 300, 10 FROM event WHERE id % 3 = 0"
    )


def expected_ids(sql, low, high, sort) -> list[int]:
    conditions = ["status = 'published'", "starts_at >= now()", "price_from IS NOT NULL"]
    if low is not None:
        conditions.append(f"price_from >= {low}")
    if high is not None:
        conditions.append(f"price_from <= {high}")
    rows = sql(f"SELECT id FROM event WHERE {' AND '.join(conditions)} ORDER BY {ORDER[sort]}")
    return [row["id"] for row in rows]


def check_every_page(client, sql, low, high, sort) -> int:
    expected = expected_ids(sql, low, high, sort)
    params = {"sort": sort}
    if low is not None:
        params["minPrice"] = low
    if high is not None:
        params["maxPrice"] = high
    last = max(1, (len(expected) + 19) // 20)
    for page in [*range(1, min(last, 8) + 1), last - 1, last, last + 1]:
        if page < 1:
            continue
        response = client.get("/api/events", query_string={**params, "page": page})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        got = [item["id"] for item in body["data"]]
        assert got == expected[(page - 1) * 20 : page * 20], (low, high, sort, page)
        assert body["meta"]["totalItems"] == len(expected), (low, high, sort, page)
    return len(expected)


@pytest.mark.parametrize("sort", list(ORDER))
def test_price_range_pages_equal_the_plain_definition_on_both_branches(client, sql, sort):
    seed(sql, 1500)
    totals = [check_every_page(client, sql, low, high, sort) for low, high in RANGES]
    assert totals[0] > 1000 and totals[1] < 1000  # both branches served
    # Again (the statement is prepared and on PostgreSQL's generic plan by now), after changes:
    # prices moved, tiers removed (no price), events unpublished, cancelled and moved in time.
    sql("UPDATE ticket_type SET price = 150 WHERE event_id % 11 = 0")
    sql("DELETE FROM ticket_type WHERE event_id % 17 = 0")
    sql("UPDATE event SET status = 'draft' WHERE id % 19 = 0")
    sql("UPDATE event SET status = 'cancelled' WHERE id % 23 = 0")
    sql("UPDATE event SET starts_at = now() - interval '1 minute' WHERE id % 29 = 0")
    sql("UPDATE event SET starts_at = now() + interval '1 hour', title = 'T0' WHERE id % 31 = 0")
    for low, high in RANGES:
        check_every_page(client, sql, low, high, sort)


@pytest.mark.parametrize("sort", ["startsAt", "price", "title"])
def test_price_range_right_at_the_branch_threshold(client, sql, sort):
    """1 000 matches are sorted in memory, 1 001 walked: both exact."""
    seed(sql, 1300)
    total = len(expected_ids(sql, "100", "200", sort))
    assert total > 1001
    # Take matches out of the range one by one around the threshold.
    surplus = total - 1001
    sql(
        "UPDATE ticket_type SET price = 999 WHERE event_id IN (SELECT id FROM event"
        " WHERE status = 'published' AND starts_at >= now() AND price_from <= 200"
        " ORDER BY id LIMIT :n)",
        n=surplus,
    )
    assert check_every_page(client, sql, "100", "200", sort) == 1001
    sql(
        "UPDATE ticket_type SET price = 999 WHERE event_id = (SELECT min(id) FROM event"
        " WHERE status = 'published' AND starts_at >= now() AND price_from <= 200)"
    )
    assert check_every_page(client, sql, "100", "200", sort) == 1000
