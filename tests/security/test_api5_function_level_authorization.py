"""OWASP API5:2023 Broken Function Level Authorization: every admin operation refuses
customers (403) and anonymous callers (401), decided from the database role."""

from tests.security.helpers import assert_problem, fill, operations


def test_every_admin_operation_refuses_customers_and_anonymous(client, make, auth, sql):
    customer = auth.headers(make.user())
    admin_ops = [(m, fill(p)) for m, p, _ in operations(client) if p.startswith("/api/admin")]
    assert len(admin_ops) >= 23
    for method, path in admin_ops:
        assert_problem(getattr(client, method)(path, json={}), 401, "token_missing")
        assert_problem(getattr(client, method)(path, json={}, headers=customer), 403, "forbidden")
    assert sql("SELECT count(*) AS n FROM category") == [{"n": 0}]


def test_no_admin_operation_lives_outside_the_admin_prefix(client):
    for _method, path, operation in operations(client):
        if "admin" in " ".join(operation.get("tags", [])):
            assert path.startswith("/api/admin"), path
