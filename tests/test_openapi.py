"""The OpenAPI document is complete, and Swagger UI works with no internet."""

import re
from pathlib import Path

import pytest


@pytest.fixture
def spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def test_every_operation_is_documented(spec):
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), f"{where} has no summary (docstring)"
        assert operation.get("description"), f"{where} has no description"
        assert operation.get("tags"), f"{where} has no tag"
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert len(success) == 1, f"{where} must have exactly one success response"
        assert "default" in operation["responses"], f"{where} documents no error response"


def test_operations_with_arguments_document_their_422(spec):
    for path, method, operation in operations(spec):
        has_query = any(p["in"] == "query" for p in operation.get("parameters", []))
        if has_query or "requestBody" in operation:
            assert "422" in operation["responses"], f"{method.upper()} {path} lacks 422"


def test_errors_are_documented_as_problem_json(spec):
    problem = spec["components"]["schemas"]["Problem"]
    core = {"type", "title", "status", "detail", "code", "errors"}
    assert core <= set(problem["properties"])
    assert problem.get("additionalProperties", True) is not False  # extension members allowed
    for name, response in spec["components"]["responses"].items():
        assert list(response["content"]) == ["application/problem+json"], name


def test_path_parameters_use_wire_names(spec):
    for path in spec["paths"]:
        for name in re.findall(r"{(\w+)}", path):
            assert "_" not in name, f"{path}: path parameter {name} should be camelCase"


def test_bearer_security_scheme_is_declared(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_wire_names_are_camel_case(spec):
    for name, schema in spec["components"]["schemas"].items():
        for field in schema.get("properties", {}):
            assert "_" not in field, f"{name}.{field} is not camelCase"


def test_swagger_ui_is_served_with_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the page loads no assets?"
    for asset in assets:
        assert asset.startswith("/api/docs/assets/"), f"{asset} is not served by the app"
        with client.get(asset) as response:
            assert response.status_code == 200, asset
            assert len(response.data) > 1000
    assert "/api/openapi.json" in html


def test_course_docs_path_leads_to_swagger(client):
    response = client.get("/docs")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/api/docs")


def test_protected_routes_declare_the_bearer_scheme(spec):
    for path, method in (
        ("/api/auth/me", "get"),
        ("/api/auth/refresh", "post"),
        ("/api/auth/logout", "post"),
        ("/api/cart/checkout", "post"),
        ("/api/orders", "get"),
        ("/api/orders/{orderId}", "get"),
        ("/api/orders/{orderId}/cancel", "post"),
        ("/api/tickets", "get"),
    ):
        assert spec["paths"][path][method]["security"] == [{"bearerAuth": []}], path


def test_cart_routes_document_optional_sign_in_and_the_cart_token(spec):
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/cart") or path == "/api/cart/checkout":
            continue
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "delete"}:
                continue
            assert operation["security"] == [{}, {"bearerAuth": []}], f"{method} {path}"
            names = [p["name"] for p in operation.get("parameters", [])]
            assert "X-Cart-Token" in names, f"{method} {path}"


def test_readme_route_table_names_every_path(spec):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [
        path for path in spec["paths"] if f"{path}`" not in readme and f"{path}," not in readme
    ]
    assert missing == [], f"README route table lacks {missing}"
