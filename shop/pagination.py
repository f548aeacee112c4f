"""Pagination, kept apart from query building: a service builds a `select()`, `paginate` runs it
for one page plus a count, and the route wraps the result in `{"data", "meta"}`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption


@dataclass
class Page:
    items: list[Any]
    page: int
    page_size: int
    total_items: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_items / self.page_size) if self.total_items else 0

    def envelope(self, items: list[Any] | None = None) -> dict[str, Any]:
        return {
            "data": self.items if items is None else items,
            "meta": {
                "page": self.page,
                "page_size": self.page_size,
                "total_items": self.total_items,
                "total_pages": self.total_pages,
            },
        }


def count_rows(session: Session, statement: Select) -> int:
    """How many rows `statement` returns, counted by PostgreSQL."""
    counting = select(func.count()).select_from(statement.order_by(None).subquery())
    return session.connection().execute(counting).scalar_one()


def paginate(
    session: Session,
    statement: Select,
    page: int,
    page_size: int,
    *,
    scalars: bool = True,
    options: Sequence[ORMOption] = (),
    total: int | None = None,
) -> Page:
    """Run `statement` for one page (LIMIT/OFFSET) and count all its rows (two queries; one
    when the caller already knows `total`). `options` (eager loads) apply to the page query
    only, so they never slow the count."""
    if total is None:
        total = count_rows(session, statement)
    if total and (page - 1) * page_size < total:
        page_query = statement.options(*options).limit(page_size).offset((page - 1) * page_size)
        result = session.execute(page_query)
        items = list(result.scalars() if scalars else result.all())
    else:
        items = []
    return Page(items=items, page=page, page_size=page_size, total_items=total or 0)
