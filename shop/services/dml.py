"""What an UPDATE or DELETE reports back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Result


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run with `Session.execute()` changed. The session types
    its answer as a plain `Result`; for these statements it is a `CursorResult`, which carries
    the count the database reported."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} is not the result of an UPDATE or DELETE")
    return result.rowcount
