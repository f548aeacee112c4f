"""Attacks on search (`q`): every word must match, the last may be partial,
soonest first (ties by id), totals exact up to the cap of 1 000, pages within the cap the Nth
slice of 20, before and past the cap, as events are added, moved in time and unpublished."""

import pytest

SEARCH_CAP = 1000


def seed(sql, count: int, spread_days: int) -> None:
    venue = sql(
        "INSERT INTO venue (name, address, city) VALUES ('Hall', 'Road', 'Odense') RETURNING id"
    )[0]["id"]
    category = sql("INSERT INTO category (slug, name) VALUES ('misc', 'Misc') RETURNING id")[0][
        "id"
    ]
    sql(
        "INSERT INTO event (title, description, starts_at, ends_at, venue_id, category_id,"
        " status, currency)"
        " SELECT CASE WHEN n % 10 = 0 THEN 'Zork night' WHEN n % 10 = 1 THEN 'Quuxly evening'"
        "  ELSE 'Zork quuxly ' || (n % 3) END, 'Plain words.',"
        "  now() + (n % :spread) * interval '1 day' + (n % 5) * interval '1 hour'"
        "   - interval '2 hours',"
        "  now() + interval '400 days', :venue, :category,"
        "  CASE WHEN n % 43 = 0 THEN 'draft' ELSE 'published' END, 'DKK'"
        " FROM generate_series(1, :count) AS n",
        venue=venue,
        category=category,
        count=count,
        spread=spread_days,
    )


def expected_ids(sql, *words_all, prefix=None) -> list[int]:
    conditions = ["status <> 'draft'", "status = 'published'", "starts_at >= now()"]
    for word in words_all:
        conditions.append(f"lower(title) ~ '\\m{word}\\M'")
    if prefix:
        conditions.append(f"lower(title) ~ '\\m{prefix}'")
    rows = sql(f"SELECT id FROM event WHERE {' AND '.join(conditions)} ORDER BY starts_at, id")
    return [row["id"] for row in rows]


def pages(client, q, numbers):
    out = {}
    for page in numbers:
        response = client.get("/api/events", query_string={"q": q, "page": page})
        assert response.status_code in (200, 422), response.get_json()
        out[page] = response
    return out


@pytest.mark.parametrize("spread", [3, 40, 120])
@pytest.mark.parametrize(
    ("q", "words", "prefix"),
    [("zork quuxl", ["zork"], "quuxl"), ("zork", [], "zork"), ("quuxly zo", ["quuxly"], "zo")],
)
def test_search_pages_and_totals_equal_the_plain_definition(client, sql, spread, q, words, prefix):
    seed(sql, 1700, spread)
    for round_ in range(2):
        expected = expected_ids(sql, *words, prefix=prefix)
        assert len(expected) > SEARCH_CAP
        answers = pages(client, q, [1, 2, 3, 10, 25, 49, 50])
        for page, response in answers.items():
            body = response.get_json()
            got = [item["id"] for item in body["data"]]
            assert got == expected[(page - 1) * 20 : page * 20], (q, spread, page, round_)
            assert body["meta"]["totalItems"] == SEARCH_CAP, (q, spread, page)
        past = client.get("/api/events", query_string={"q": q, "page": 51})
        assert past.status_code == 200 and past.get_json()["data"] == [], past.get_json()
        # Then the catalogue changes: soonest events unpublished, others moved to today.
        sql(
            "UPDATE event SET status = 'cancelled' WHERE id IN (SELECT id FROM event"
            " WHERE starts_at >= now() ORDER BY starts_at, id LIMIT 7)"
        )
        sql("UPDATE event SET starts_at = now() + interval '5 minutes' WHERE id % 97 = 0")
        sql("UPDATE event SET starts_at = now() + interval '300 days' WHERE id % 89 = 0")


@pytest.mark.parametrize("count", [990, 1000, 1001, 1030])
def test_search_totals_are_exact_up_to_the_cap(client, sql, count):
    seed(sql, count + count // 43 + 5, 30)
    expected = expected_ids(sql, prefix="zork")
    want = min(len(expected), SEARCH_CAP)
    answers = pages(client, "zork", [1, 50, (len(expected) + 19) // 20])
    for page, response in answers.items():
        body = response.get_json()
        if response.status_code == 200 and page <= 50:
            assert [i["id"] for i in body["data"]] == expected[(page - 1) * 20 : page * 20]
            assert body["meta"]["totalItems"] == want


ORDER = {"startsAt": "starts_at, id", "-startsAt": "starts_at DESC, id DESC", "title": "title, id"}


@pytest.mark.parametrize("sort", list(ORDER))
@pytest.mark.parametrize("since", [None, "2000-01-01"])
def test_search_past_the_cap_in_every_sort_and_from_the_past(client, sql, sort, since):
    """Past the cap the API pages through the first 1 000 matches of the sort (the Nth slice of
    the plain order, whichever branch serves it); `from` in the past brings past events in."""
    seed(sql, 1700, 60)
    start = "starts_at >= now()" if since is None else "starts_at >= '2000-01-01'"
    rows = sql(
        "SELECT id FROM event WHERE status = 'published' AND lower(title) ~ '\\mzork\\M'"
        f" AND {start} ORDER BY {ORDER[sort]}"
    )
    expected = [row["id"] for row in rows]
    assert len(expected) > SEARCH_CAP
    params = {"q": "zork", "sort": sort}
    if since is not None:
        params["from"] = since
    for page in (1, 2, 26, 50):
        body = client.get("/api/events", query_string={**params, "page": page}).get_json()
        assert [i["id"] for i in body["data"]] == expected[(page - 1) * 20 : page * 20], page
        assert body["meta"]["totalItems"] == SEARCH_CAP
