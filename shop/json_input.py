"""Reading a JSON request body without letting hostile JSON reach a 500.

Python's `json` module accepts things the rest of the stack cannot handle: nesting 1 000 levels
deep raises RecursionError, an integer literal of 4 300+ digits raises ValueError (CPython's
guard against quadratic int parsing), and an escape such as `\\ud800` decodes to a lone UTF-16
surrogate that cannot be encoded again (psycopg and the log writer fail on it). Each of these is
the client's mistake, so each is a 400 problem that says what to change.
"""

from __future__ import annotations

import json
from typing import Any

from shop.services.errors import MalformedJson

# Our deepest body is two levels ({"expectedTotal": {"amount": ...}}); 32 leaves room for any
# honest client and keeps every later walk over the data (marshmallow, json.dumps) shallow.
MAX_JSON_DEPTH = 32
# No number we accept is longer than this; 4 300 digits is where CPython refuses.
MAX_NUMBER_DIGITS = 100


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise MalformedJson(
            f"A number in the body has more than {MAX_NUMBER_DIGITS} digits. Send a number in"
            " the documented range.",
            errors={"_json": ["Number too long."]},
        )
    return int(literal)


def load_json_body(raw: bytes) -> Any:
    """Parse `raw` as JSON, refusing (400) what our stack cannot carry safely."""
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, parse_int=_bounded_int)
    except RecursionError as error:
        raise _too_deep() from error
    except (UnicodeDecodeError, ValueError) as error:
        # JSONDecodeError is a ValueError: one clear answer for every kind of syntax error.
        raise MalformedJson(
            f"The request body is not valid JSON ({error}). Fix the syntax and send it again.",
            errors={"_json": ["Invalid JSON body."]},
        ) from error
    _check_depth_and_text(data)
    return data


def _too_deep() -> MalformedJson:
    return MalformedJson(
        f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep. Send a flatter body.",
        errors={"_json": ["Nested too deeply."]},
    )


def _check_depth_and_text(data: Any) -> None:
    # An explicit stack instead of recursion: the walk itself cannot run out of stack.
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, str):
            _check_text(value)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise MalformedJson(
            "A string in the body contains a lone UTF-16 surrogate escape (such as \\ud800),"
            " which is not a character. Send valid Unicode text.",
            errors={"_json": ["Invalid Unicode escape."]},
        ) from error
