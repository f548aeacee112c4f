"""Every error the framework raises comes out as one problem+json shape."""

from shop import create_app


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"]
    assert body["detail"]
    assert body["type"].startswith("urn:shop:problem:")
    return body


def test_unknown_route_is_404_problem(client):
    assert_problem(client.get("/api/nothing-here"), 404, "not_found")


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/api/health")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_non_json_body_is_415(client):
    response = client.post(
        "/api/health", data="a=1", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415, "unsupported_media_type")


def test_body_over_limit_is_413(client):
    response = client.post("/api/health", data="x" * (65 * 1024), content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


def test_request_id_is_generated_and_echoed(client):
    generated = client.get("/api/health").headers["X-Request-ID"]
    assert len(generated) == 32
    echoed = client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"


def test_insane_request_id_is_replaced(client):
    response = client.get("/api/health", headers={"X-Request-ID": "bad id\twith spaces" * 20})
    assert response.headers["X-Request-ID"] != "bad id\twith spaces" * 20
    assert len(response.headers["X-Request-ID"]) == 32


def test_request_is_logged_with_its_id(client, caplog):
    caplog.set_level("INFO", logger="shop.access")
    client.get("/api/health", headers={"X-Request-ID": "trace-me-42"})
    records = [r for r in caplog.records if r.name == "shop.access"]
    fields = records[-1].fields
    assert fields["requestId"] == "trace-me-42"
    assert fields["method"] == "GET"
    assert fields["path"] == "/api/health"
    assert fields["status"] == 200
    assert fields["durationMs"] >= 0


def test_unexpected_exception_is_500_problem_without_trace(database_url):
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url})

    @app.get("/api/test-crash")
    def crash():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/api/test-crash")
    body = assert_problem(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "request id" in body["detail"]


def test_a_json_route_without_a_body_is_422_not_an_empty_change(client, make, auth):
    admin = auth.headers(make.user(role="admin"))
    category = make.category()
    response = client.patch(f"/api/admin/categories/{category.id}", headers=admin)
    body = assert_problem(response, 422, "validation_failed")
    assert "JSON body" in body["detail"]


def test_overlong_and_out_of_range_values_are_422(client, make, auth):
    admin = auth.headers(make.user(role="admin"))
    slug = client.post("/api/admin/categories", json={"slug": "a" * 61, "name": "x"}, headers=admin)
    assert_problem(slug, 422, "validation_failed")
    huge = client.post("/api/cart/items", json={"ticketTypeId": 2**40, "quantity": 1})
    assert "ticketTypeId" in assert_problem(huge, 422, "validation_failed")["errors"]


def test_one_code_has_one_title_however_it_is_raised(client, make, auth):
    # validation_failed from webargs (query) and from a route's own check (missing body).
    from_webargs = client.get("/api/events?pageSize=0").get_json()
    admin = auth.headers(make.user(role="admin"))
    category = make.category()
    from_route = client.patch(f"/api/admin/categories/{category.id}", headers=admin).get_json()
    assert from_webargs["code"] == from_route["code"] == "validation_failed"
    assert from_webargs["title"] == from_route["title"] == "Validation failed"
    # not_found from routing and from a domain error.
    unknown_route = client.get("/api/nothing-here").get_json()
    assert unknown_route["code"] == "not_found" and unknown_route["title"] == "Not found"


def test_every_documented_problem_code_has_its_registered_title():
    from shop.problems import HTTP_PROBLEMS, PROBLEM_CODES, PROBLEM_TITLES

    assert sorted(PROBLEM_TITLES) == PROBLEM_CODES
    for code, _detail in HTTP_PROBLEMS.values():
        assert code in PROBLEM_TITLES, f"{code} has no registered title"


def _subclasses(cls: type) -> list[type]:
    return [cls] + [sub for direct in cls.__subclasses__() for sub in _subclasses(direct)]


def test_every_domain_error_has_its_own_row_in_the_problem_table():
    from shop.problems import PROBLEMS
    from shop.services.errors import DomainError

    public = [cls for cls in _subclasses(DomainError) if not cls.__name__.startswith("_")]
    assert [cls.__name__ for cls in public if cls not in PROBLEMS] == []


def test_a_domain_error_is_answered_as_its_row_says(app):
    from decimal import Decimal

    from shop.services.checkout import Money
    from shop.services.errors import CartItemNotFound, PasswordHashingBusy, PriceChanged

    with app.test_request_context():
        from shop.problems import problem_for

        missing = problem_for(CartItemNotFound()).get_json()
        busy = problem_for(PasswordHashingBusy())
        changed = problem_for(
            PriceChanged(
                "The total changed.",
                expected_total=Money(Decimal("10.00"), "DKK"),
                current_total=Money(Decimal("12.50"), "DKK"),
            )
        ).get_json()
    # The message is the domain's; the next step (a route) is the HTTP layer's.
    assert missing["detail"] == (
        "Your cart has no line with this id. GET /api/cart lists your lines and their ids."
    )
    assert (busy.status_code, busy.headers["Retry-After"]) == (503, "1")
    # Domain data becomes camelCase extension members with amounts as strings.
    assert changed["expectedTotal"] == {"amount": "10.00", "currency": "DKK"}
    assert changed["currentTotal"] == {"amount": "12.50", "currency": "DKK"}
