"""A buyer's journey, written against the Python client that openapi-python-client generates from
the live OpenAPI document (scripts/contract generates it, type-checks this file with
`mypy --strict` and runs it against a seeded server): if the document stops describing what
the server does, or stops being precise enough to type a client, this fails.

Browse, fill a guest cart, sign up (merging the guest cart), check out with an idempotency key,
replay it, see the order and the tickets, cancel, and the problems a client must handle.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from http import HTTPStatus
from typing import TypeVar

import pytest
from shop_client import AuthenticatedClient, Client
from shop_client.api.auth import get_me, refresh_access_token, sign_up
from shop_client.api.cart import add_cart_item, get_cart
from shop_client.api.categories import list_categories
from shop_client.api.checkout import checkout
from shop_client.api.events import get_event, list_events
from shop_client.api.orders import cancel_order, get_order, list_orders
from shop_client.api.tickets import list_tickets
from shop_client.models import (
    Cart,
    CartEnvelope,
    CartItemCreate,
    Checkout,
    EventEnvelope,
    EventPage,
    Money,
    MoneyIn,
    OrderEnvelope,
    OrderPage,
    OrderStatus,
    Problem,
    ProblemCode,
    SessionEnvelope,
    Signup,
    TicketPage,
    TicketStatus,
    TicketType,
)
from shop_client.types import Response

T = TypeVar("T")


@pytest.fixture(scope="module")
def base_url() -> str:
    url = os.environ.get("SHOP_BASE_URL")
    if not url:
        pytest.fail("Set SHOP_BASE_URL to a seeded shop server (scripts/contract does).")
    return url


@pytest.fixture(scope="module")
def public(base_url: str) -> Iterator[Client]:
    with Client(base_url=base_url, raise_on_unexpected_status=True) as client:
        yield client


@pytest.fixture(scope="module")
def guest(base_url: str) -> Iterator[AuthenticatedClient]:
    # Cart routes take a token optionally (`security: [{}, {bearerAuth: []}]`), but the generator
    # asks for an AuthenticatedClient on any operation with security. A guest's client therefore
    # sends an empty Authorization header, which the API reads as "not signed in".
    with AuthenticatedClient(
        base_url=base_url, token="", prefix="", raise_on_unexpected_status=True
    ) as client:
        yield client


def signed_in(base_url: str, access_token: str) -> AuthenticatedClient:
    return AuthenticatedClient(
        base_url=base_url, token=access_token, raise_on_unexpected_status=True
    )


def problem(response: Response[T], status: HTTPStatus, code: ProblemCode) -> Problem:
    """The response is this problem; its detail says what to do."""
    assert response.status_code == status, response.content[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert isinstance(response.parsed, Problem)
    assert response.parsed.code == code
    assert response.parsed.type_ == f"urn:shop:problem:{code.value}"
    assert response.parsed.detail
    return response.parsed


def a_tier_on_sale(public: Client, seats: int) -> TicketType:
    """The first listed event with a tier that sells `seats` tickets in one order."""
    page = list_events.sync(client=public, available=True, page_size=50)
    assert isinstance(page, EventPage) and page.meta.total_items > 0
    for listed in page.data:
        detail = get_event.sync(listed.id, client=public)
        assert isinstance(detail, EventEnvelope)
        for tier in detail.data.ticket_types:
            if tier.on_sale and tier.available >= seats and tier.max_per_order >= seats:
                return tier
    pytest.fail(f"no event sells {seats} tickets in one order: is the server seeded?")


def test_browsing_the_catalogue(public: Client) -> None:
    categories = list_categories.sync(client=public)
    assert categories is not None and not isinstance(categories, Problem)
    assert categories.data and categories.meta.page == 1

    first = list_events.sync_detailed(client=public)
    assert first.status_code == HTTPStatus.OK and isinstance(first.parsed, EventPage)
    assert all(event.starts_at.tzinfo is not None for event in first.parsed.data)
    assert any(event.price_from is not None for event in first.parsed.data)
    unchanged = list_events.sync_detailed(client=public, if_none_match=first.headers["etag"])
    assert unchanged.status_code == HTTPStatus.NOT_MODIFIED and unchanged.parsed is None

    search = list_events.sync(client=public, q="jazz", city="Copenhagen")
    assert isinstance(search, EventPage)
    problem(
        get_event.sync_detailed(2_147_483_646, client=public),
        HTTPStatus.NOT_FOUND,
        ProblemCode.EVENT_NOT_FOUND,
    )


def test_a_guest_signs_up_checks_out_and_cancels(
    base_url: str, public: Client, guest: AuthenticatedClient
) -> None:
    tier = a_tier_on_sale(public, seats=2)

    # A guest cart: the first add creates it and hands back its token.
    added = add_cart_item.sync_detailed(
        client=guest, body=CartItemCreate(ticket_type_id=tier.id, quantity=2)
    )
    assert added.status_code == HTTPStatus.CREATED and isinstance(added.parsed, CartEnvelope)
    cart_token = added.parsed.data.cart_token
    assert cart_token is not None and added.headers["x-cart-token"] == cart_token
    seen = get_cart.sync(client=guest, x_cart_token=cart_token)
    assert isinstance(seen, CartEnvelope) and seen.data.total_quantity == 2
    assert seen.data.hold_expires_at is not None

    # Signing up with the guest token merges the guest cart into the new account's cart.
    session = sign_up.sync(
        client=public,
        body=Signup(
            email=f"journey-{uuid.uuid4().hex[:12]}@example.com",
            password="Journey-Pass-2026",
            name="Journey Buyer",
        ),
        x_cart_token=cart_token,
    )
    assert isinstance(session, SessionEnvelope)
    assert isinstance(session.data.cart, Cart) and session.data.cart.total_quantity == 2
    problem(
        get_cart.sync_detailed(client=guest, x_cart_token=cart_token),
        HTTPStatus.NOT_FOUND,
        ProblemCode.CART_NOT_FOUND,
    )

    with signed_in(base_url, session.data.access_token) as buyer:
        me = get_me.sync(client=buyer)
        assert me is not None and not isinstance(me, Problem)
        assert me.data.email == session.data.user.email
        cart = get_cart.sync(client=buyer)
        assert isinstance(cart, CartEnvelope)
        subtotal = cart.data.subtotal
        assert Decimal(subtotal.amount) == Decimal(tier.price.amount) * 2

        # A stale total is refused with both totals, typed as Money.
        stale = problem(
            checkout.sync_detailed(
                client=buyer,
                body=Checkout(expected_total=MoneyIn(amount="0.01", currency=subtotal.currency)),
            ),
            HTTPStatus.CONFLICT,
            ProblemCode.PRICE_CHANGED,
        )
        assert isinstance(stale.current_total, Money)
        assert stale.current_total.amount == subtotal.amount

        # Check out with an idempotency key; a retry replays the same order.
        key = str(uuid.uuid4())
        body = Checkout(expected_total=MoneyIn(amount=subtotal.amount, currency=subtotal.currency))
        placed = checkout.sync_detailed(client=buyer, body=body, idempotency_key=key)
        assert placed.status_code == HTTPStatus.CREATED
        assert isinstance(placed.parsed, OrderEnvelope)
        order = placed.parsed.data
        assert placed.headers["location"] == f"/api/orders/{order.id}"
        assert order.status == OrderStatus.CONFIRMED and order.ticket_count == 2
        replayed = checkout.sync_detailed(client=buyer, body=body, idempotency_key=key)
        assert replayed.headers["idempotent-replayed"] == "true"
        assert isinstance(replayed.parsed, OrderEnvelope) and replayed.parsed.data.id == order.id

        # The cart is gone: checking out again is a clear problem.
        problem(
            checkout.sync_detailed(client=buyer),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            ProblemCode.CART_EMPTY,
        )

        orders = list_orders.sync(client=buyer)
        assert isinstance(orders, OrderPage) and [o.id for o in orders.data] == [order.id]
        shown = get_order.sync(order.id, client=buyer)
        assert isinstance(shown, OrderEnvelope)
        codes = {ticket.code for line in shown.data.items for ticket in line.tickets}
        assert len(codes) == 2
        tickets = list_tickets.sync(client=buyer)
        assert isinstance(tickets, TicketPage)
        assert {t.code for t in tickets.data} == codes
        assert {t.status for t in tickets.data} == {TicketStatus.VALID}

        cancelled = cancel_order.sync(order.id, client=buyer)
        assert isinstance(cancelled, OrderEnvelope)
        assert cancelled.data.status == OrderStatus.CANCELLED
        assert cancelled.data.cancelled_at is not None
        voided = list_tickets.sync(client=buyer)
        assert isinstance(voided, TicketPage)
        assert {t.status for t in voided.data} == {TicketStatus.VOID}
        problem(
            cancel_order.sync_detailed(order.id, client=buyer),
            HTTPStatus.CONFLICT,
            ProblemCode.ORDER_NOT_CANCELLABLE,
        )

        # Someone else's (or no) order is a 404, never a hint that it exists.
        problem(
            get_order.sync_detailed(2_147_483_646, client=buyer),
            HTTPStatus.NOT_FOUND,
            ProblemCode.ORDER_NOT_FOUND,
        )

        # The access token is not a refresh token.
        problem(
            refresh_access_token.sync_detailed(client=buyer),
            HTTPStatus.UNAUTHORIZED,
            ProblemCode.WRONG_TOKEN_TYPE,
        )
    with signed_in(base_url, session.data.refresh_token) as refresher:
        refreshed = refresh_access_token.sync(client=refresher)
        assert refreshed is not None and not isinstance(refreshed, Problem)
        assert refreshed.data.access_token


def test_signed_in_routes_refuse_a_missing_token(guest: AuthenticatedClient) -> None:
    problem(get_me.sync_detailed(client=guest), HTTPStatus.UNAUTHORIZED, ProblemCode.TOKEN_MISSING)
    problem(
        checkout.sync_detailed(client=guest), HTTPStatus.UNAUTHORIZED, ProblemCode.TOKEN_MISSING
    )
