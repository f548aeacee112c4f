"""Status values are StrEnums shared by the models, the services, the schemas and the OpenAPI
document: one list of values, wherever it shows."""

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.models import Cart, CartStatus, Event, EventStatus, OrderStatus, Role, TicketStatus
from shop.models.enums import one_of


def test_named_enum_schemas_in_the_openapi_document_list_the_enums_values(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    for enum in (EventStatus, OrderStatus, TicketStatus, Role):
        assert schemas[enum.__name__] == {"type": "string", "enum": [m.value for m in enum]}


def test_the_check_constraint_allows_exactly_the_enums_values():
    constraint = one_of("status", CartStatus, name="status_valid")
    assert str(constraint.sqltext) == ("status IN ('active', 'merged', 'checked_out', 'abandoned')")
    checks = {c.name: str(c.sqltext) for c in Cart.__table__.constraints if hasattr(c, "sqltext")}
    assert checks["ck_cart_status_valid"] == str(constraint.sqltext)


def test_a_loaded_status_is_the_enum_member(app, make):
    with app.app_context():
        event_id = make.event().id
        status = db.session.scalar(select(Event.status).where(Event.id == event_id))
    assert status is EventStatus.PUBLISHED


def test_a_value_outside_the_enum_is_refused_before_the_database(app, make):
    with app.app_context():
        event = db.session.get(Event, make.event().id)
        event.status = "archived"
        with pytest.raises(Exception, match="'archived' is not a valid EventStatus"):
            db.session.flush()
        db.session.rollback()
