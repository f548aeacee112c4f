"""OWASP API3:2023 Broken Object Property Level Authorization.

Mass assignment: no body accepts a field it does not document, so a customer cannot set a
role, `sold`, a status, a price, an owner or an id through any route. Excessive data
exposure: no response ever contains a password hash."""

import pytest

from tests.security.helpers import assert_problem, fill, operations

SMUGGLED = {
    "role": "admin",
    "sold": 0,
    "status": "published",
    "userId": 1,
    "id": 99,
    "passwordHash": "x",
    "unitPrice": {"amount": "0.00", "currency": "DKK"},
    "total": "0.00",
}


def test_every_body_refuses_undocumented_fields(app, client, make, auth, sql):
    admin = auth.headers(make.user(role="admin"))
    spec = client.get("/api/openapi.json").get_json()
    checked = 0
    for method, path, operation in operations(client):
        if "requestBody" not in operation:
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        documented = set(spec["components"]["schemas"][ref.rsplit("/", 1)[1]].get("properties", {}))
        for name, value in SMUGGLED.items():
            if name in documented:
                continue
            response = getattr(client, method)(fill(path), json={name: value}, headers=admin)
            body = assert_problem(response, 422)
            assert body["errors"].get(name) == ["Unknown field."], (method, path, body)
            checked += 1
    assert checked > 100
    assert sql("SELECT count(*) AS n FROM app_user WHERE role = 'admin'") == [{"n": 1}]


def test_signup_cannot_choose_a_role(client, sql):
    response = client.post(
        "/api/auth/signup",
        json={
            "email": "sneaky@example.com",
            "password": "Correct-Horse-9",
            "name": "S",
            "role": "admin",
        },
    )
    assert_problem(response, 422, "validation_failed")
    assert sql("SELECT count(*) AS n FROM app_user") == [{"n": 0}]


@pytest.mark.parametrize("path", ["/api/auth/me", "/api/auth/login", "/api/auth/signup"])
def test_no_response_contains_a_password_hash(client, make, auth, path):
    user = make.user(email="pw@example.com")
    if path == "/api/auth/me":
        response = client.get(path, headers=auth.headers(user))
    elif path == "/api/auth/login":
        response = client.post(
            path, json={"email": "pw@example.com", "password": "Correct-Horse-9"}
        )
    else:
        response = client.post(
            path, json={"email": "new@example.com", "password": "Correct-Horse-9", "name": "N"}
        )
    text = response.get_data(as_text=True)
    assert response.status_code in (200, 201)
    assert "argon2" not in text and "password" not in text.lower()
