"""The listing's SQL for a URL, exactly as the app sends it, for the floor bench (bench/floor.py).

The floor bench runs the app's own listing statements without the app: in pgbench, and in a bare
Flask + psycopg app (bench/floor_app.py). Both need, for a URL such as
`/api/events?category=jazz&page=2&sort=-price`, the SQL text and values that
`shop.catalog.json_bodies.listing_json` sends for it. This module builds them with the app's own
functions (`listing_sql`, which `listing_json` calls, and `planned_once`), so a change to the listing's SQL reaches the floor bench too, and
tests/test_floor_sql.py checks, URL by URL, that the statements and values equal what the app
sends through HTTP (so the two cannot drift apart unnoticed).

The query string is read by hand (no marshmallow, no webargs): the mixes only send valid URLs,
and a bare app is the point. Invalid input is not this module's concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from shop.catalog.json_bodies import listing_sql
from shop.catalog.schemas import SORT_PARAMETER
from shop.database import numbered_placeholders
from shop.services.catalog import EventFilters, planned_once

# The psycopg dialect the app's engine uses: the SQL text is compiled for it (its casts,
# `%(name)s` placeholders).
DIALECT = PGDialect_psycopg()
CENTS = Decimal("0.01")


def listing_arguments(query: Mapping[str, str]) -> tuple[EventFilters, int, int]:
    """The listing's filters, page and page size from a query string's values, as
    `EventQuerySchema` loads them for the URLs of the mixes (sort names mapped, amounts to two
    places). Dates and `available` are not read: the mixes do not send them."""
    min_price, max_price = query.get("minPrice"), query.get("maxPrice")
    filters = EventFilters(
        q=query.get("q"),
        category=query.get("category"),
        city=query.get("city"),
        min_price=Decimal(min_price).quantize(CENTS) if min_price is not None else None,
        max_price=Decimal(max_price).quantize(CENTS) if max_price is not None else None,
        sort=SORT_PARAMETER[query.get("sort", "startsAt")],
    )
    return filters, int(query.get("page", 1)), int(query.get("pageSize", 20))


@dataclass(frozen=True)
class ListingStatement:
    """What the app sends for one listing URL.

    `sql`: driver SQL with `%(name)s` placeholders, as `listing_json` runs it; `values`: by
    name; `custom_plan`: whether the app wraps it in `SET plan_cache_mode =
    force_custom_plan` ... `RESET plan_cache_mode` (planned with its values on every run)."""

    sql: str
    values: dict[str, Any]
    custom_plan: bool

    def numbered(self) -> tuple[bytes, list[Any]]:
        """The SQL as PostgreSQL receives it (`$1`, `$2`, ...) and the values in that order."""
        sql, names = numbered_placeholders(self.sql)
        return sql, [self.values[name] for name in names]


def listing_statement(query: Mapping[str, str]) -> ListingStatement:
    """The statement `listing_json` sends for this query string (its own `listing_sql`, and the
    same plan mode), with only the values its SQL uses (filters left out are not sent)."""
    filters, page, page_size = listing_arguments(query)
    sql, values = listing_sql(filters, page, page_size, DIALECT)
    used = tuple(name for name in values if f"%({name})s" in sql)
    return ListingStatement(
        sql, {name: values[name] for name in used}, not (filters.q or planned_once(filters))
    )
