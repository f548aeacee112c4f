"""OWASP API4:2023 Unrestricted Resource Consumption: page sizes are capped, bodies are
limited, search text is bounded, sign-in attempts are rate limited (tests/test_auth.py)."""

from tests.security.helpers import assert_problem, operations


def test_every_list_caps_page_size_at_100(client, make, auth):
    admin = auth.headers(make.user(role="admin"))
    lists = [
        path
        for method, path, op in operations(client)
        if method == "get" and any(p["name"] == "pageSize" for p in op.get("parameters", []))
    ]
    assert len(lists) >= 7
    for path in lists:
        assert client.get(f"{path}?pageSize=100", headers=admin).status_code == 200, path
        body = assert_problem(
            client.get(f"{path}?pageSize=101", headers=admin), 422, "validation_failed"
        )
        assert "pageSize" in body["errors"]


def test_bodies_over_64_kib_are_refused_before_parsing(client, make, auth, sql):
    admin = auth.headers(make.user(role="admin"))
    response = client.post(
        "/api/admin/categories",
        data='{"slug": "' + "a" * 70_000 + '"}',
        content_type="application/json",
        headers=admin,
    )
    assert_problem(response, 413, "payload_too_large")
    assert sql("SELECT count(*) AS n FROM category") == [{"n": 0}]


def test_search_text_is_bounded(client):
    assert_problem(
        client.get("/api/events", query_string={"q": "jazz " * 41}), 422, "validation_failed"
    )
    # Many short words are cut to the first eight: still a cheap query.
    response = client.get("/api/events", query_string={"q": " ".join(f"w{i}" for i in range(30))})
    assert response.status_code == 200


def test_cart_lines_and_quantities_are_bounded(client, make):
    tier = make.ticket_type(make.event(), capacity=1000, max_per_order=100)
    assert_problem(
        client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 101}), 422
    )
