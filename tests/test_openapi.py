"""The OpenAPI document is complete, and Swagger UI works with no internet."""

import json
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
    # Checkout needs a signed-in user, and merges a guest cart sent along first.
    checkout = spec["paths"]["/api/cart/checkout"]["post"]
    assert checkout["security"] == [{"bearerAuth": []}]
    assert {"X-Cart-Token", "Idempotency-Key"} <= {p["name"] for p in checkout["parameters"]}


def test_readme_route_table_names_every_path(spec):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [
        path for path in spec["paths"] if f"{path}`" not in readme and f"{path}," not in readme
    ]
    assert missing == [], f"README route table lacks {missing}"


# --- what client generators rely on (issue 13) --------------------------------------------------


def test_every_operation_has_a_stable_readable_operation_id(spec):
    ids = [operation.get("operationId") for _, _, operation in operations(spec)]
    assert all(ids), "every operation needs an operationId"
    assert len(set(ids)) == len(ids), "operationIds must be unique"
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", name) for name in ids)
    named = {(method, path): op["operationId"] for path, method, op in operations(spec)}
    assert named[("get", "/api/events")] == "listEvents"
    assert named[("get", "/api/events/{eventId}")] == "getEvent"
    assert named[("post", "/api/cart/items")] == "addCartItem"
    assert named[("post", "/api/cart/checkout")] == "checkout"


def test_public_operations_say_they_need_no_sign_in(spec):
    public = {
        (path, method)
        for path, method, operation in operations(spec)
        if operation["security"] == []
    }
    assert public == {
        ("/api/health", "get"),
        ("/api/events", "get"),
        ("/api/events/{eventId}", "get"),
        ("/api/categories", "get"),
        ("/api/venues", "get"),
        ("/api/auth/signup", "post"),
        ("/api/auth/login", "post"),
    }


def test_the_document_names_its_server_and_license(spec):
    assert spec["servers"] == [{"url": "/", "description": spec["servers"][0]["description"]}]
    assert spec["info"]["license"]["name"]


def response_schemas(spec) -> set[str]:
    """Every component schema reachable from a success response."""
    schemas = spec["components"]["schemas"]
    seen: set[str] = set()
    todo = [
        ref
        for _, _, operation in operations(spec)
        for code, response in operation["responses"].items()
        if code.startswith("2")
        for ref in re.findall(r'"#/components/schemas/(\w+)"', str(response).replace("'", '"'))
    ]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            text = str(schemas[name]).replace("'", '"')
            todo.extend(re.findall(r'"#/components/schemas/(\w+)"', text))
    return seen


def test_every_always_present_response_field_is_required(spec):
    sometimes_absent = {
        "CartWarning": {"itemId", "requested", "kept", "oldPrice", "newPrice"},
        "Session": {"cart"},
    }
    schemas = spec["components"]["schemas"]
    for name in response_schemas(spec):
        schema = schemas[name]
        if "properties" not in schema:
            continue  # a named enum
        expected = set(schema["properties"]) - sometimes_absent.get(name, set())
        assert set(schema.get("required", [])) == expected, name


def test_nullable_values_are_typed_for_generators(spec):
    schemas = spec["components"]["schemas"]
    assert spec["openapi"].startswith("3.1")
    assert schemas["Event"]["properties"]["priceFrom"]["anyOf"] == [
        {"$ref": "#/components/schemas/Money"},
        {"type": "null"},
    ]
    assert schemas["Cart"]["properties"]["id"]["type"] == ["integer", "null"]
    # Never null: an empty cart's subtotal is 0.00.
    assert schemas["Cart"]["properties"]["subtotal"]["$ref"] == "#/components/schemas/Money"
    assert '"nullable"' not in str(spec).replace("'", '"'), "3.0's nullable has no meaning in 3.1"


def test_closed_sets_of_values_are_named_enums(spec):
    schemas = spec["components"]["schemas"]

    def values(schema: str, field: str) -> list[str]:
        ref = schemas[schema]["properties"][field]["$ref"]
        return schemas[ref.rsplit("/", 1)[1]]["enum"]

    assert values("EventDetail", "status") == ["published", "cancelled"]
    assert values("AdminEvent", "status") == ["draft", "published", "cancelled"]
    assert values("EventSales", "status") == ["draft", "published", "cancelled"]
    assert values("User", "role") == ["customer", "admin"]
    # One type per set: the order list and the order detail share OrderStatus.
    for schema in ("Ticket", "MyTicket", "CheckIn"):
        assert schemas[schema]["properties"]["status"]["$ref"].endswith("/TicketStatus")
    for schema in ("Order", "OrderDetail"):
        assert schemas[schema]["properties"]["status"]["$ref"].endswith("/OrderStatus")
    assert "quantity_capped" in values("CartWarning", "code")
    codes = values("Problem", "code")
    assert {"validation_failed", "token_missing", "price_changed"} <= set(codes)
    assert "x-enum-name" not in str(spec)


def test_problem_requires_its_core_members_and_types_its_extensions(spec):
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    for member in ("expectedTotal", "currentTotal"):
        assert problem["properties"][member]["$ref"] == "#/components/schemas/Money", member


def test_date_range_parameters_are_typed(spec):
    date_or_datetime = [
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
    ]
    for path in ("/api/events", "/api/admin/reports/sales"):
        parameters = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        for name in ("from", "to"):
            assert parameters[name]["schema"]["anyOf"] == date_or_datetime, (path, name)


def test_validators_are_visible_in_the_document(spec):
    schemas = spec["components"]["schemas"]
    slug = schemas["CategoryCreate"]["properties"]["slug"]
    assert (slug["minLength"], slug["maxLength"], slug["pattern"]) == (
        1,
        60,
        "^[a-z0-9]+(-[a-z0-9]+)*$",
    )
    for schema, field in (
        ("Signup", "name"),
        ("CategoryCreate", "name"),
        ("VenueCreate", "name"),
        ("EventCreate", "title"),
        ("TicketTypeCreate", "name"),
    ):
        prop = schemas[schema]["properties"][field]
        assert prop["minLength"] == 1 and prop["maxLength"] and prop["pattern"], (schema, field)
    assert '"format": "url"' not in str(spec).replace("'", '"')


def test_every_response_documents_its_request_id_header(spec):
    responses = spec["components"]["responses"]
    for path, method, operation in operations(spec):
        for code, response in operation["responses"].items():
            if "$ref" in response:
                response = responses[response["$ref"].rsplit("/", 1)[1]]
            assert "X-Request-ID" in response.get("headers", {}), (method, path, code)


def test_special_response_headers_and_the_304_are_documented(spec):
    paths = spec["paths"]
    responses = spec["components"]["responses"]
    listing = paths["/api/events"]["get"]["responses"]
    assert "ETag" in listing["200"]["headers"] and "304" in listing
    assert "If-None-Match" in [p["name"] for p in paths["/api/events"]["parameters"]]
    created = paths["/api/cart/checkout"]["post"]["responses"]["201"]["headers"]
    assert {"Location", "Idempotent-Replayed"} <= set(created)
    for operation in (paths["/api/auth/login"]["post"], paths["/api/auth/signup"]["post"]):
        success = next(r for c, r in operation["responses"].items() if c.startswith("2"))
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
            success["headers"]
        )
        assert "X-Cart-Token" in [p["name"] for p in operation["parameters"]]
    assert "Retry-After" in responses["TOO_MANY_REQUESTS"]["headers"]
    assert "Retry-After" in responses["SERVICE_UNAVAILABLE"]["headers"]
    assert "WWW-Authenticate" in responses["UNAUTHORIZED"]["headers"]


def test_error_examples_are_realistic_for_their_status(spec):
    for name, response in spec["components"]["responses"].items():
        example = response["content"]["application/problem+json"].get("example")
        if example is None:
            continue
        if name != "DEFAULT_ERROR":
            status = next(s for s in __import__("http").HTTPStatus if s.name == name)
            assert example["status"] == status, name
        assert example["type"] == f"urn:shop:problem:{example['code']}", name
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]["content"]
    assert unauthorized["application/problem+json"]["example"]["code"].startswith("token_")


def test_try_it_out_starts_from_the_unfiltered_listing(spec):
    for parameter in spec["paths"]["/api/events"]["get"]["parameters"]:
        schema = parameter.get("schema", {})
        assert "example" not in parameter and "examples" not in parameter, parameter["name"]
        assert "example" not in schema, parameter["name"]


def test_patch_bodies_have_no_defaults_a_client_would_send(spec):
    schemas = spec["components"]["schemas"]
    for name in ("CategoryUpdate", "VenueUpdate", "EventUpdate", "TicketTypeUpdate"):
        assert "required" not in schemas[name], name
        defaults = [f for f, prop in schemas[name]["properties"].items() if "default" in prop]
        assert defaults == [], name


def test_route_specific_error_examples_match_their_status(spec):
    for path, method, operation in operations(spec):
        for code, response in operation["responses"].items():
            example = response.get("content", {}).get("application/problem+json", {})
            if "example" in example:
                assert example["example"]["status"] == int(code), (method, path, code)
    login = spec["paths"]["/api/auth/login"]["post"]["responses"]["401"]
    assert login["content"]["application/problem+json"]["example"]["code"] == (
        "invalid_credentials"
    )


def test_the_documented_license_is_the_repository_s(spec):
    from pathlib import Path

    license_text = (Path(__file__).resolve().parents[1] / "LICENSE").read_text()
    assert license_text.startswith(f"{spec['info']['license']['name']} License")


def test_responses_list_keys_in_the_order_the_document_declares_them(client, make, spec):
    # Not alphabetised (Flask's default): `id` first, `slug` before `name`, `data` before `meta`.
    make.category(slug="jazz", name="Jazz")
    response = client.get("/api/categories")
    assert response.status_code == 200
    body = json.loads(response.data)  # a dict keeps the order the keys were sent in
    schemas = spec["components"]["schemas"]
    assert list(body) == list(schemas["CategoryPage"]["properties"]) == ["data", "meta"]
    assert (
        list(body["data"][0]) == list(schemas["Category"]["properties"]) == ["id", "slug", "name"]
    )
    assert list(body["meta"]) == ["page", "pageSize", "totalItems", "totalPages"]


def test_every_property_and_query_parameter_is_camel_case(spec):
    # CamelCaseSchema derives the wire names; a snake_case name here means a schema skipped it.
    for name, schema in spec["components"]["schemas"].items():
        for prop in schema.get("properties", {}):
            assert "_" not in prop, f"{name}.{prop} should be camelCase"
    for path, method, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            assert "_" not in parameter["name"], f"{method.upper()} {path}: {parameter['name']}"


def test_the_catalogue_reads_are_documented_without_a_wrapper_around_their_views(app, spec):
    """The detail and the listing build their own Response (PostgreSQL wrote the body), so
    their 200, 304 and 404 are documented without flask-smorest's per-request wrappers around
    the views (`Blueprint.built_response`, and `alt_response` never wraps): the detail's view is
    its own method, the listing's has only the arguments' parsing around it."""
    from shop.catalog.routes import EventDetail, Events

    assert not hasattr(EventDetail.get, "__wrapped__")
    parsing = Events.get.__wrapped__  # flask-smorest's arguments, then webargs' parser
    assert not hasattr(parsing.__wrapped__, "__wrapped__")
    detail = spec["paths"]["/api/events/{eventId}"]["get"]["responses"]
    listing = spec["paths"]["/api/events"]["get"]["responses"]
    assert {"200", "304", "404"} <= set(detail) and {"200", "304", "422"} <= set(listing)
    assert detail["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EventEnvelope"
    }
    assert listing["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EventPage"
    }
    assert {"ETag", "X-Request-ID"} <= set(detail["200"]["headers"]) & set(
        listing["304"]["headers"]
    )
