"""The database itself refuses bad data, even from a SQL console: each rule the schema claims is
tried with a violating row inserted through SQL, and must be refused by the named constraint."""

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shop.extensions import db
from tests.factories import now


@pytest.fixture
def refused(app):
    """Run SQL that must fail; return the name of the constraint that refused it."""

    def run(statement: str, **params) -> str:
        with app.app_context():
            try:
                db.session.execute(text(statement), params)
                db.session.flush()
            except DBAPIError as error:
                db.session.rollback()
                diag = error.orig.diag
                return diag.constraint_name or diag.message_primary
            db.session.rollback()
        raise AssertionError(f"The database accepted: {statement}")

    return run


@pytest.fixture
def catalog(make):
    event = make.event()
    tier = make.ticket_type(event, capacity=10)
    user = make.user()
    return {"event": event, "tier": tier, "user": user}


def test_user_email_is_unique_case_insensitively(make, refused):
    make.user(email="ann@example.com")
    assert (
        refused(
            "INSERT INTO app_user (email, password_hash, name)"
            " VALUES ('ANN@example.com', 'x', 'Ann')"
        )
        == "uq_app_user_email_lower"
    )


@pytest.mark.parametrize(
    ("column_values", "constraint"),
    [
        ("'a@x.dk', 'x', 'A', 'superuser'", "ck_app_user_role_valid"),
        ("' a@x.dk', 'x', 'A', 'customer'", "ck_app_user_email_shape"),
        ("'no-at-sign', 'x', 'A', 'customer'", "ck_app_user_email_shape"),
        ("'a@x.dk', 'x', '  ', 'customer'", "ck_app_user_name_not_blank"),
    ],
)
def test_user_rows_must_be_well_formed(refused, column_values, constraint):
    statement = f"INSERT INTO app_user (email, password_hash, name, role) VALUES ({column_values})"
    assert refused(statement) == constraint


def test_category_slug_format_and_uniqueness(make, refused):
    make.category(slug="jazz", name="Jazz")
    assert refused("INSERT INTO category (slug, name) VALUES ('Jazz Club', 'X')") == (
        "ck_category_slug_format"
    )
    assert refused("INSERT INTO category (slug, name) VALUES ('jazz', 'Other')") == (
        "uq_category_slug"
    )


def test_venue_name_is_unique_per_city(make, refused):
    make.venue(name="Vega", city="Copenhagen")
    assert refused(
        "INSERT INTO venue (name, address, city) VALUES ('Vega', 'Elsewhere 1', 'Copenhagen')"
    ) == ("uq_venue_name_city")


def test_event_must_end_after_it_starts(catalog, refused):
    event = catalog["event"]
    assert (
        refused("UPDATE event SET ends_at = starts_at WHERE id = :id", id=event.id)
        == "ck_event_ends_after_starts"
    )


def test_event_status_is_one_of_three(catalog, refused):
    assert (
        refused("UPDATE event SET status = 'archived' WHERE id = :id", id=catalog["event"].id)
        == "ck_event_status_valid"
    )


def test_event_needs_an_existing_venue_and_category(catalog, refused):
    event = catalog["event"]
    assert (
        refused("UPDATE event SET venue_id = 999999 WHERE id = :id", id=event.id)
        == "fk_event_venue_id_venue"
    )
    assert (
        refused("UPDATE event SET category_id = 999999 WHERE id = :id", id=event.id)
        == "fk_event_category_id_category"
    )


def test_venue_with_events_cannot_be_deleted(catalog, refused):
    assert (
        refused("DELETE FROM venue WHERE id = :id", id=catalog["event"].venue_id)
        == "fk_event_venue_id_venue"
    )


@pytest.mark.parametrize(
    ("assignment", "constraint"),
    [
        ("price = -1", "ck_ticket_type_price_not_negative"),
        ("capacity = 0", "ck_ticket_type_capacity_positive"),
        ("sold = 11", "ck_ticket_type_sold_within_capacity"),
        ("sold = -1", "ck_ticket_type_sold_within_capacity"),
        ("max_per_order = 0", "ck_ticket_type_max_per_order_range"),
        (
            "sales_start = now(), sales_end = now() - interval '1 day'",
            "ck_ticket_type_sales_window_order",
        ),
        ("currency = 'EUR'", "fk_ticket_type_event_id_currency_event"),
    ],
)
def test_ticket_type_rules(catalog, refused, assignment, constraint):
    statement = f"UPDATE ticket_type SET {assignment} WHERE id = :id"
    assert refused(statement, id=catalog["tier"].id) == constraint


def test_ticket_type_names_are_unique_per_event(catalog, refused):
    tier = catalog["tier"]
    assert (
        refused(
            "INSERT INTO ticket_type (event_id, name, price, currency, capacity)"
            " VALUES (:event_id, :name, 10, 'DKK', 5)",
            event_id=tier.event_id,
            name=tier.name,
        )
        == "uq_ticket_type_event_id_name"
    )


def test_one_active_cart_per_user(catalog, sql, refused):
    user_id = catalog["user"].id
    sql("INSERT INTO cart (user_id) VALUES (:u)", u=user_id)
    assert refused("INSERT INTO cart (user_id) VALUES (:u)", u=user_id) == "uq_cart_active_user"
    # A closed cart does not count: the user may have many checked-out carts.
    sql("UPDATE cart SET status = 'checked_out' WHERE user_id = :u", u=user_id)
    sql("INSERT INTO cart (user_id) VALUES (:u)", u=user_id)


def test_cart_needs_an_owner(refused):
    assert refused("INSERT INTO cart DEFAULT VALUES") == "ck_cart_has_owner"


def test_cart_line_event_must_match_its_ticket_type(catalog, make, sql, refused):
    other_event = make.event()
    cart = sql("INSERT INTO cart (user_id) VALUES (:u) RETURNING id", u=catalog["user"].id)[0]
    assert (
        refused(
            "INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)"
            " VALUES (:c, :e, :t, 1, 10)",
            c=cart["id"],
            e=other_event.id,
            t=catalog["tier"].id,
        )
        == "fk_cart_item_event_id_ticket_type_id_ticket_type"
    )


@pytest.mark.parametrize(
    ("quantity", "unit_price", "constraint"),
    [(0, 10, "ck_cart_item_quantity_positive"), (1, -5, "ck_cart_item_unit_price_not_negative")],
)
def test_cart_line_quantity_and_price(catalog, sql, refused, quantity, unit_price, constraint):
    cart = sql("INSERT INTO cart (user_id) VALUES (:u) RETURNING id", u=catalog["user"].id)[0]
    statement = (
        "INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)"
        " VALUES (:c, :e, :t, :q, :p)"
    )
    tier = catalog["tier"]
    params = {"c": cart["id"], "e": tier.event_id, "t": tier.id, "q": quantity, "p": unit_price}
    assert refused(statement, **params) == constraint


def test_one_line_per_ticket_type_in_a_cart(catalog, sql, refused):
    tier = catalog["tier"]
    cart = sql("INSERT INTO cart (user_id) VALUES (:u) RETURNING id", u=catalog["user"].id)[0]
    statement = (
        "INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)"
        " VALUES (:c, :e, :t, 1, 10)"
    )
    sql(statement, c=cart["id"], e=tier.event_id, t=tier.id)
    assert (
        refused(statement, c=cart["id"], e=tier.event_id, t=tier.id)
        == "uq_cart_item_cart_id_ticket_type_id"
    )


@pytest.fixture
def order(catalog, sql):
    tier = catalog["tier"]
    user_id = catalog["user"].id
    cart = sql(
        "INSERT INTO cart (user_id, status) VALUES (:u, 'checked_out') RETURNING id", u=user_id
    )[0]
    order = sql(
        "INSERT INTO customer_order (user_id, cart_id, total, currency, confirmed_at)"
        " VALUES (:u, :c, 20, 'DKK', now()) RETURNING id",
        u=user_id,
        c=cart["id"],
    )[0]
    item = sql(
        "INSERT INTO order_item (order_id, event_id, ticket_type_id, event_title, event_starts_at,"
        " ticket_type_name, unit_price, quantity, line_total)"
        " VALUES (:o, :e, :t, 'E', :s, 'T', 10, 2, 20) RETURNING id",
        o=order["id"],
        e=tier.event_id,
        t=tier.id,
        s=now() + timedelta(days=1),
    )[0]
    return {"id": order["id"], "cart_id": cart["id"], "item_id": item["id"], "user_id": user_id}


def test_one_cart_yields_at_most_one_order(order, refused):
    assert (
        refused(
            "INSERT INTO customer_order (user_id, cart_id, total, currency)"
            " VALUES (:u, :c, 0, 'DKK')",
            u=order["user_id"],
            c=order["cart_id"],
        )
        == "uq_customer_order_cart_id"
    )


def test_order_status_and_cancel_time_agree(order, refused):
    assert (
        refused("UPDATE customer_order SET status = 'cancelled' WHERE id = :id", id=order["id"])
        == "ck_customer_order_cancelled_at_matches_status"
    )
    assert (
        refused("UPDATE customer_order SET status = 'refunded' WHERE id = :id", id=order["id"])
        == "ck_customer_order_status_valid"
    )


def test_order_line_total_is_price_times_quantity(order, refused):
    assert (
        refused("UPDATE order_item SET line_total = 999 WHERE id = :id", id=order["item_id"])
        == "ck_order_item_line_total_matches"
    )


def test_sold_ticket_type_and_event_cannot_be_deleted(order, catalog, refused):
    assert (
        refused("DELETE FROM ticket_type WHERE id = :id", id=catalog["tier"].id)
        == "fk_order_item_ticket_type_id_ticket_type"
    )
    assert refused("DELETE FROM event WHERE id = :id", id=catalog["event"].id) in {
        "fk_order_item_event_id_event",
        "fk_order_item_ticket_type_id_ticket_type",
    }


def test_ticket_codes_are_unique_and_well_formed(order, sql, refused):
    statement = "INSERT INTO ticket (order_item_id, code) VALUES (:i, :code)"
    sql(statement, i=order["item_id"], code="A" * 32)
    assert refused(statement, i=order["item_id"], code="A" * 32) == "uq_ticket_code"
    assert refused(statement, i=order["item_id"], code="short") == "ck_ticket_code_format"


def test_used_ticket_has_a_check_in_time(order, sql, refused):
    sql(
        "INSERT INTO ticket (order_item_id, code) VALUES (:i, :code)",
        i=order["item_id"],
        code="B" * 32,
    )
    assert (
        refused("UPDATE ticket SET status = 'used' WHERE code = :code", code="B" * 32)
        == "ck_ticket_checked_in_matches"
    )


def test_idempotency_key_is_unique_per_user(catalog, sql, refused):
    statement = (
        "INSERT INTO idempotency_key (user_id, key, request_fingerprint, created_at)"
        " VALUES (:u, 'k1', 'f', now())"
    )
    sql(statement, u=catalog["user"].id)
    assert refused(statement, u=catalog["user"].id) == "uq_idempotency_key_user_id_key"


def test_completed_idempotency_key_has_a_response(catalog, refused):
    assert (
        refused(
            "INSERT INTO idempotency_key (user_id, key, request_fingerprint, created_at,"
            " completed_at) VALUES (:u, 'k2', 'f', now(), now())",
            u=catalog["user"].id,
        )
        == "ck_idempotency_key_completed_has_response"
    )


def test_search_vector_and_price_from_follow_the_data(catalog, make, sql):
    event = catalog["event"]
    make.ticket_type(event, price="99.50")
    row = sql("SELECT price_from, search_vector::text AS v FROM event WHERE id = :id", id=event.id)
    assert str(row[0]["price_from"]) == "99.50"
    sql("UPDATE venue SET city = 'Århus' WHERE id = :id", id=event.venue_id)
    row = sql("SELECT search_vector::text AS v FROM event WHERE id = :id", id=event.id)
    assert "'arhus'" in row[0]["v"]  # accents folded, venue change reached the event
