"""The floor bench (bench/floor.py) runs the shop's listing statements without the shop: in
pgbench and in a bare Flask app. Its figures only mean something if those are the statements
the shop sends, so these tests compare them, URL by URL, with what the listing route sends."""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.floor import MAX_SCRIPTS, pgbench_scripts, sql_literal
from bench.floor_sql import listing_statement
from bench.mixes import browse_paths, search_paths


@contextmanager
def sent_statements():
    """(SQL, parameters) of every statement sent meanwhile, as the driver gets them."""
    sent: list[tuple[str, dict]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def one_url_per_statement() -> list[str]:
    """The first URL of the browse and search mixes for each distinct statement (every filter
    combination and sort the mixes send), plus a few more of each mix."""
    paths = browse_paths(400) + search_paths(50)
    chosen: dict[str, str] = {}
    for path in paths:
        chosen.setdefault(listing_statement(query_of(path)).sql, path)
    return [*chosen.values(), *paths[:20], *search_paths(5)]


def query_of(path: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(path).query))


@pytest.mark.parametrize("path", one_url_per_statement())
def test_floor_statement_is_what_the_listing_route_sends(client, path):
    expected = listing_statement(query_of(path))
    with sent_statements() as sent:
        response = client.get(path)
    assert response.status_code == 200, response.get_json()
    around = ["SET plan_cache_mode = force_custom_plan", "RESET plan_cache_mode"]
    if expected.custom_plan:
        assert [sql for sql, _ in sent] == [around[0], expected.sql, around[1]]
        parameters = sent[1][1]
    else:
        assert [sql for sql, _ in sent] == [expected.sql]
        parameters = sent[0][1]
    assert {name: parameters[name] for name in expected.values} == expected.values
    # and nothing the statement uses is left out
    assert {name for name in parameters if f"%({name})s" in expected.sql} == set(expected.values)


def test_pgbench_scripts_prepare_each_statement_and_execute_each_url_once():
    paths = [
        "/api/events?category=jazz&page=2",
        "/api/events?category=rock&page=1",
        "/api/events?minPrice=100&maxPrice=300&page=3&sort=-price",
        "/api/events?q=jazz+cop",
    ]
    scripts = pgbench_scripts(paths)
    text = "\n".join(script.text for script in scripts)
    # three statements (the two categories share one); a script per URL at this sample size
    weights: dict[str, int] = {}
    for script in scripts:
        weights[script.prepared] = weights.get(script.prepared, 0) + script.weight
    assert weights == {"floor_0": 2, "floor_1": 1, "floor_2": 1}
    # each script prepares its statement once per connection (guarded by `floor_<n>_ready`)
    assert all(script.text.count("PREPARE ") == 1 for script in scripts)
    assert text.count("EXECUTE ") == 4
    # the price range is planned with its values, as the shop runs it
    assert text.count("SET plan_cache_mode = force_custom_plan;") == 1
    sql, values = listing_statement(query_of(paths[0])).numbered()
    assert f"PREPARE floor_0 AS {sql.decode()};" in scripts[0].text
    assert f"EXECUTE floor_0({', '.join(sql_literal(value) for value in values)});" in text
    assert sql_literal("it's") == "'it''s'"


def test_pgbench_scripts_stay_within_pgbenchs_limit_and_keep_every_url():
    paths = browse_paths(5000)
    scripts = pgbench_scripts(paths)
    assert len(scripts) <= MAX_SCRIPTS
    assert sum(script.weight for script in scripts) == len(paths)
