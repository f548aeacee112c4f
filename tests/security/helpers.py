"""Shared helpers for the security suite: walk our own OpenAPI document."""

import re

from tests.helpers import problem


def operations(client):
    """(method, path template, operation) for every documented operation."""
    spec = client.get("/api/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path, operation


def fill(path: str, value: int | str = 1) -> str:
    return re.sub(r"{code}", "A" * 32, re.sub(r"{\w+}", str(value), path))


assert_problem = problem
