"""No input reaches a 500: JSON that Python's parser or the database driver cannot carry, chunked
bodies (no Content-Length) and signed tokens that do not name one of our users are all 4xx
problems. Each case once through the Flask app, and the chunked ones through gunicorn as
configured (the asyncio front turns them into sized bodies)."""

import http.client
import io
import json

import jwt
import pytest

from tests.security.helpers import assert_problem
from tests.security.live import live_server

DEEP = '{"email": ' + "[" * 1000 + "]" * 1000 + ', "password": "x"}'


def test_json_nested_1000_levels_is_400(client):
    response = client.post("/api/auth/login", data=DEEP, content_type="application/json")
    body = assert_problem(response, 400, "bad_request")
    assert "nested" in body["detail"]


def test_an_integer_of_4400_digits_is_400(client, make, sql):
    tier = make.ticket_type(make.event())
    data = f'{{"ticketTypeId": {tier.id}, "quantity": {"9" * 4400}}}'
    response = client.post("/api/cart/items", data=data, content_type="application/json")
    assert_problem(response, 400, "bad_request")
    assert sql("SELECT count(*) AS n FROM cart") == [{"n": 0}]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login", '{"email": "a\\ud800@example.com", "password": "Correct-Horse-9"}'),
        (
            "/api/auth/signup",
            '{"email": "s@example.com", "password": "Correct-Horse-9", "name": "x\\ud800"}',
        ),
        ("/api/auth/login", '{"email\\udfff": "a@example.com", "password": "x"}'),
    ],
)
def test_a_lone_surrogate_escape_in_any_string_is_400(client, sql, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert "surrogate" in assert_problem(response, 400, "bad_request")["detail"]
    assert sql("SELECT count(*) AS n FROM app_user") == [{"n": 0}]


def chunked(client, path: str, payload: bytes, content_type: str = "application/json"):
    return client.post(
        path,
        input_stream=io.BytesIO(payload),
        headers={"Transfer-Encoding": "chunked", "Content-Type": content_type},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_chunked_bodies_meet_the_nul_size_and_media_type_guards(client):
    login = b'{"email": "a\\u0000@example.com", "password": "x"}'
    assert_problem(chunked(client, "/api/auth/login", login), 422, "validation_failed")
    big = b'{"email": "' + b"a" * 70_000 + b'", "password": "x"}'
    assert_problem(chunked(client, "/api/auth/login", big), 413, "payload_too_large")
    form = b"email=a@example.com"
    assert_problem(
        chunked(client, "/api/auth/login", form, "application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )


def test_a_nul_in_a_query_value_is_refused_however_it_is_written(client):
    """The NUL guard looks at decoded query values only when the raw query string could hold
    one (`%00` or a raw NUL): every spelling is still refused, and a `%` that only looks like
    one (`%2500` is the text "%00") is not."""
    for query in ("q=%00", "q=jazz%00", "page=1&q=a%00b", "city=%00&page=1"):
        response = client.get(f"/api/events?{query}")
        assert_problem(response, 422, "validation_failed")
        assert "NUL" in response.get_json()["detail"], query
    assert_problem(client.get("/api/events/1?x=%00"), 422, "validation_failed")
    raw = client.get("/api/events", environ_overrides={"QUERY_STRING": "q=a\x00"})
    assert_problem(raw, 422, "validation_failed")
    literal = client.get("/api/events?q=%2500")
    assert literal.status_code == 200, literal.get_data(as_text=True)


def test_a_signed_token_whose_subject_is_not_a_user_id_is_401(app, client):
    secret = app.config["JWT_SECRET_KEY"]
    for subject in ("admin", "1 OR 1=1", "99999999999999999999", "-1", "²"):
        token = jwt.encode(
            {"sub": subject, "type": "access", "jti": "j", "fresh": False, "exp": 4102444800},
            secret,
            algorithm="HS256",
        )
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "token_invalid")


def send_chunked(port: int, path: str, payload: bytes) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    for start in range(0, len(payload), 1000):
        piece = payload[start : start + 1000]
        connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    return response.status, body


def test_chunked_bodies_through_gunicorn_as_configured(database_url, tmp_path):
    with live_server(database_url, tmp_path, workers=1) as port:
        nul = b'{"email": "a\\u0000@example.com", "password": "x"}'
        assert send_chunked(port, "/api/auth/login", nul)[0] == 422
        big = b'{"email": "' + b"a" * 70_000 + b'", "password": "x"}'
        status, body = send_chunked(port, "/api/auth/login", big)
        assert (status, body["code"]) == (413, "payload_too_large")
        status, body = send_chunked(port, "/api/auth/login", DEEP.encode())
        assert (status, body["code"]) == (400, "bad_request")
        wrong = b'{"email": "nobody@example.com", "password": "Correct-Horse-9"}'
        assert send_chunked(port, "/api/auth/login", wrong)[0] == 401
