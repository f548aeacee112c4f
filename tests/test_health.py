from shop import create_app


def test_health_reports_ok_with_database(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json() == {"data": {"status": "ok", "database": "ok"}}


def test_health_is_503_problem_when_database_is_unreachable(tmp_path):
    # A socket directory with no server behind it: the database is down.
    app = create_app(
        "testing",
        {"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@/nowhere?host={tmp_path}"},
    )
    response = app.test_client().get("/api/health")
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 503
    assert body["code"] == "database_unavailable"
    assert "try again" in body["detail"].lower()
    assert response.headers["Retry-After"] == "5"
