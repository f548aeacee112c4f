"""Assertions shared by the test modules."""

from shop.errors import PROBLEM_TITLES


def problem(response, status: int, code: str | None = None) -> dict:
    """Assert an RFC 9457 problem answer with this status (and code); return its body."""
    assert response.status_code == status, (
        response.status_code,
        response.get_data(as_text=True)[:300],
    )
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    for member in ("type", "title", "status", "detail", "code"):
        assert member in body, body
    assert body["status"] == status
    # One constant title per code (RFC 9457), whichever layer answered.
    assert body["title"] == PROBLEM_TITLES[body["code"]], body
    if code is not None:
        assert body["code"] == code, body
    return body


def violations(app) -> list[str]:
    """What `flask check` would report right now (an empty list: seats and money add up)."""
    from shop.extensions import db
    from shop.services.consistency import find_violations

    with app.app_context():
        found = find_violations(
            db.session,
            hold_minutes=app.config["CART_HOLD_MINUTES"],
            max_renewals=app.config["CART_HOLD_MAX_RENEWALS"],
        )
        db.session.remove()
    return [str(violation) for violation in found]
