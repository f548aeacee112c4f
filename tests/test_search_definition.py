"""What a search lists equals the plain definition (published, upcoming, every
word matches, the last word's prefix, soonest first, ties by id), for prefixes that the exact-word
rewrite (event_search_exact_query) and the one-word table (event_search_word) treat specially."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from shop.extensions import db
from shop.services.catalog import search_query
from tests.factories import now

PLAIN = text(
    "SELECT id FROM event WHERE status = 'published' AND starts_at >= now()"
    " AND search_vector @@ to_tsquery('shop_search', :q) ORDER BY starts_at, id"
)

TITLES = [
    "Copenhagen Jazz",
    "Copper Night",
    "Cop Show",
    "Cöpcake Fair",
    "Coq au vin",
    "Cop-out Comedy",
    "Co co co",
    "Colour run",
    "Coal mine",
    "Coat fair",
    "Code camp",
    "Coffee tasting",
    "Cog wheels",
    "Coil art",
    "Coin fair",
    "Coke studio",
    "Cola party",
    "Cold night",
    "Night of nights",
    "x.y/a www.example.com/path",
    "Ærø festival",
    "Zoë and Zoe",
    "Straße fest",
    "İstanbul night",
]
QUERIES = [
    "co",
    "cop",
    "cope",
    "cöp",
    "coq",
    "cop out",
    "night co",
    "co night",
    "night",
    "nigh",
    "n",
    "www",
    "www.example",
    "example",
    "x",
    "ær",
    "aer",
    "zo",
    "zoë",
    "stra",
    "strasse",
    "ist",
    "i̇stanbul",
    "the",
    "the night",
    "a",
    "c",
    "o",
    "fest",
    "festival ær",
]


@pytest.mark.parametrize("when", ["same_period", "spread"])
def test_search_lists_the_plain_definition(app, client, make, when):
    base = now() + timedelta(days=3)
    for n, title in enumerate(TITLES):
        days = 0 if when == "same_period" else 9 * n
        make.event(title=title, starts_at=base + timedelta(days=days, hours=n % 3))
    make.event(title="Copper past", starts_at=now() - timedelta(hours=1))
    make.event(title="Copper draft", status="draft")
    for q in QUERIES:
        words = search_query(q)
        with app.app_context():
            expected = [row[0] for row in db.session.execute(PLAIN, {"q": words})] if words else []
            db.session.rollback()
        body = client.get("/api/events", query_string={"q": q, "pageSize": 100}).get_json()
        got = [item["id"] for item in body["data"]]
        assert (q, got, body["meta"]["totalItems"]) == (q, expected, len(expected))


PLAIN_RANGE = (
    "SELECT id FROM event WHERE status = 'published' AND starts_at >= {start}"
    " AND (CAST(:to AS timestamptz) IS NULL OR starts_at <= CAST(:to AS timestamptz))"
    " AND search_vector @@ to_tsquery('shop_search', :q) ORDER BY starts_at {d}, id {d}"
)


@pytest.mark.parametrize("sort", ["startsAt", "-startsAt"])
def test_one_word_search_with_dates_lists_the_plain_definition(app, client, make, sort):
    """The one-word table path (dates and a start sort only): `from`/`to` at exact starts, in the
    past, across 14-day periods; an event with several words under one prefix listed once."""
    base = now().replace(microsecond=0) + timedelta(days=1)
    starts = [
        base + timedelta(days=d, hours=h) for d in (0, 13, 14, 15, 27, 28, 29, 60) for h in (0, 5)
    ]
    starts += [now() - timedelta(days=20), now() - timedelta(days=1), base, base]
    for n, s in enumerate(starts):
        make.event(title=["Copper copenhagen cop", "Copper", "Jazz"][n % 3], starts_at=s)
    ranges = [
        (None, None),
        ((now() - timedelta(days=30)).isoformat(), None),
        (base.isoformat(), (base + timedelta(days=14)).isoformat()),
        ((base + timedelta(days=13)).isoformat(), (base + timedelta(days=28, hours=5)).isoformat()),
        (None, (base + timedelta(days=15)).isoformat()),
        ((now() - timedelta(days=2)).isoformat(), (now() + timedelta(days=1)).isoformat()),
    ]
    d = "DESC" if sort.startswith("-") else ""
    for q in ("cop", "copp", "c", "jazz", "copper cop"):
        for start, to in ranges:
            sql = PLAIN_RANGE.format(
                start="now()" if start is None else "CAST(:start AS timestamptz)", d=d
            )
            with app.app_context():
                expected = [
                    r[0]
                    for r in db.session.execute(
                        text(sql), {"q": search_query(q), "to": to, "start": start}
                    )
                ]
                db.session.rollback()
            params = {"q": q, "sort": sort, "pageSize": 100}
            if start:
                params["from"] = start
            if to:
                params["to"] = to
            response = client.get("/api/events", query_string=params)
            body = response.get_json()
            assert response.status_code == 200, body
            got = [i["id"] for i in body["data"]]
            assert (q, start, to, got, body["meta"]["totalItems"]) == (
                q,
                start,
                to,
                expected,
                len(expected),
            )
