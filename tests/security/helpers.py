"""Shared helpers for the security suite: walk our own OpenAPI document."""

import re


def operations(client):
    """(method, path template, operation) for every documented operation."""
    spec = client.get("/api/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path, operation


def fill(path: str, value: int | str = 1) -> str:
    return re.sub(r"{code}", "A" * 32, re.sub(r"{\w+}", str(value), path))


def assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (
        response.status_code,
        response.get_data(as_text=True)[:300],
    )
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    if code:
        assert body["code"] == code, body
    return body
