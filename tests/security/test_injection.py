"""OWASP API8:2023 Security Misconfiguration / injection: hostile strings in every string
parameter and body field are data, never SQL; nothing answers 500 and nothing is harmed."""

import pytest

from tests.security.helpers import operations

PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE event; --",
    "\\\\'; SELECT pg_sleep(5); --",
    "jazz) | (x",
    "%' AND 1=1 --",
    "<script>alert(1)</script>",
    "\u0000",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_string_query_parameter(client, make, auth, sql, payload):
    admin = auth.headers(make.user(role="admin"))
    make.ticket_type(make.event(title="Survivor"))
    for method, path, operation in operations(client):
        if method != "get" or "{" in path:
            continue
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["schema"].get("type") == "string":
                response = client.get(
                    path, query_string={parameter["name"]: payload}, headers=admin
                )
                assert response.status_code in (200, 422), (
                    path,
                    parameter["name"],
                    response.status_code,
                )
    assert sql("SELECT title FROM event") == [{"title": "Survivor"}]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_string_body_fields_and_path_codes(client, make, auth, sql, payload):
    admin = auth.headers(make.user(role="admin"))
    for path, body in (
        ("/api/auth/login", {"email": payload, "password": payload}),
        ("/api/auth/signup", {"email": payload, "password": payload, "name": payload}),
        ("/api/admin/venues", {"name": payload, "address": payload, "city": payload}),
    ):
        response = client.post(path, json=body, headers=admin)
        assert response.status_code in (201, 401, 409, 422), (path, response.status_code)
    code = client.post("/api/admin/tickets/x'%20OR%201=1/check-in", headers=admin)
    assert code.status_code == 404
    assert sql("SELECT count(*) AS n FROM event") == [{"n": 0}]
