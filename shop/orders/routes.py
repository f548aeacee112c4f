"""Checkout, order and ticket routes (signed in).

The auth decorator sits on top of each method: a request is authenticated before its body or
query is even parsed, so anonymous callers learn nothing from validation errors.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required

from shop.cart.routes import cart_token_parameter, guest_cart_merged_first
from shop.extensions import db
from shop.idempotency import HEADER_DOC as IDEMPOTENCY_HEADER_DOC
from shop.idempotency import idempotent
from shop.models import Order
from shop.openapi import ID, Blueprint
from shop.orders.schemas import (
    CheckoutSchema,
    OrderEnvelopeSchema,
    OrderPageSchema,
    TicketPageSchema,
    TicketQuerySchema,
)
from shop.schemas import PageQuerySchema, money
from shop.services import checkout, orders

checkout_blp = Blueprint(
    "checkout", __name__, url_prefix="/api/cart", description="Turn your cart into an order"
)
orders_blp = Blueprint("orders", __name__, url_prefix="/api/orders", description="Your orders")
tickets_blp = Blueprint("tickets", __name__, url_prefix="/api/tickets", description="Your tickets")

BEARER: dict[str, Any] = {"security": [{"bearerAuth": []}]}
IDEMPOTENT_DOC = {**BEARER, "parameters": [IDEMPOTENCY_HEADER_DOC]}
CHECKOUT_DOC = {
    **BEARER,
    "parameters": [
        IDEMPOTENCY_HEADER_DOC,
        cart_token_parameter(
            "A guest cart's token: it merges into your cart first; if that changed your cart,"
            " the answer is 409 `cart_merged` and nothing is bought."
        ),
    ],
}


def order_view(order: Order, *, with_tickets: bool = False) -> dict:
    items = []
    for item in order.items:
        line = {
            "id": item.id,
            "event_id": item.event_id,
            "ticket_type_id": item.ticket_type_id,
            "event_title": item.event_title,
            "event_starts_at": item.event_starts_at,
            "ticket_type_name": item.ticket_type_name,
            "unit_price": money(item.unit_price, order.currency),
            "quantity": item.quantity,
            "line_total": money(item.line_total, order.currency),
        }
        if with_tickets:
            line["tickets"] = item.tickets
        items.append(line)
    return {
        "id": order.id,
        "status": order.status,
        "total": money(order.total, order.currency),
        "ticket_count": sum(item.quantity for item in order.items),
        "created_at": order.created_at,
        "confirmed_at": order.confirmed_at,
        "cancelled_at": order.cancelled_at,
        "items": items,
    }


@checkout_blp.route("/checkout")
class Checkout(MethodView):
    @jwt_required()
    @guest_cart_merged_first  # before the Idempotency-Key is claimed: see its docstring
    @idempotent
    @checkout_blp.doc(**CHECKOUT_DOC)
    @checkout_blp.arguments(CheckoutSchema, required=False)
    @checkout_blp.response(
        201,
        OrderEnvelopeSchema,
        headers={"Location": "Location", "Idempotent-Replayed": "Idempotent-Replayed"},
    )
    @checkout_blp.alt_response(401, response="UNAUTHORIZED", description="Not signed in")
    @checkout_blp.alt_response(
        409, response="CONFLICT", description="Seats, sales or price changed"
    )
    @checkout_blp.alt_response(503, response="SERVICE_UNAVAILABLE", description="Busy; retry")
    def post(self, body):
        """Check out: turn your cart into an order

        In one transaction: re-checks every line's sales window and seats (your cart's holds
        count for you, other carts' against you), creates the order with its lines and one
        ticket per seat, and closes the cart. All or nothing. Empty cart: 422. Not enough
        seats: 409 with `errors.lines` saying, per line, what is left. `expectedTotal`
        different from the current total: 409 `price_changed` with both totals. Payment is
        simulated: the order is `confirmed` at once. Send an `Idempotency-Key` to retry safely.
        A guest cart sent as `X-Cart-Token` is merged into yours first; if that changed your
        cart, nothing is bought (409 `cart_merged`): review the cart and check out again.
        """
        expected = (body or {}).get("expected_total")
        order = checkout.place_order(
            db.session(),
            current_user.id,
            expected_total=checkout.Money(expected["amount"], expected["currency"])
            if expected
            else None,
        )
        # @idempotent commits, once, after storing this answer with the key.
        return (
            {"data": order_view(order, with_tickets=True)},
            201,
            {"Location": f"/api/orders/{order.id}"},
        )


@orders_blp.route("")
class Orders(MethodView):
    @jwt_required()
    @orders_blp.doc(**BEARER)
    @orders_blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    @orders_blp.response(200, OrderPageSchema)
    @orders_blp.alt_response(401, response="UNAUTHORIZED", description="Not signed in")
    def get(self, page: int, page_size: int):
        """List your orders

        Newest first, with their lines (event, ticket type and price as they were when you
        bought). Tickets are in each order's detail and in GET /api/tickets.
        """
        result = orders.list_orders(db.session(), current_user.id, page, page_size)
        return result.envelope([order_view(order) for order in result.items])


@orders_blp.route(f"/<{ID}:orderId>")
class OrderDetail(MethodView):
    @jwt_required()
    @orders_blp.doc(**BEARER)
    @orders_blp.response(200, OrderEnvelopeSchema)
    @orders_blp.alt_response(401, response="UNAUTHORIZED", description="Not signed in")
    @orders_blp.alt_response(404, response="NOT_FOUND", description="Not one of your orders")
    def get(self, orderId: int):  # path parameters are wire names, so camelCase
        """Show one of your orders

        Lines, totals and every ticket with its code. Someone else's order is a 404.
        """
        order = orders.get_order(db.session(), current_user.id, orderId)
        return {"data": order_view(order, with_tickets=True)}


@orders_blp.route(f"/<{ID}:orderId>/cancel")
class OrderCancel(MethodView):
    @jwt_required()
    @idempotent
    @orders_blp.doc(**IDEMPOTENT_DOC)
    @orders_blp.response(
        200, OrderEnvelopeSchema, headers={"Idempotent-Replayed": "Idempotent-Replayed"}
    )
    @orders_blp.alt_response(401, response="UNAUTHORIZED", description="Not signed in")
    @orders_blp.alt_response(404, response="NOT_FOUND", description="Not one of your orders")
    @orders_blp.alt_response(409, response="CONFLICT", description="Already cancelled or started")
    @orders_blp.alt_response(
        422,
        response="UNPROCESSABLE_ENTITY",
        description="Idempotency-Key used for another request",
    )
    @orders_blp.alt_response(503, response="SERVICE_UNAVAILABLE", description="Busy; retry")
    def post(self, orderId: int):
        """Cancel one of your orders

        Allowed until its first event starts: the seats of its valid tickets go back on sale
        and those tickets become `void` (tickets an event cancellation already voided stay as
        they are). Cancelling twice, after an event started or with a ticket already scanned:
        409. Send an `Idempotency-Key` to retry safely.
        """
        order = orders.cancel_order(db.session(), current_user.id, orderId)
        # @idempotent commits, once, after storing this answer with the key.
        return {"data": order_view(order, with_tickets=True)}


@tickets_blp.route("")
class Tickets(MethodView):
    @jwt_required()
    @tickets_blp.doc(**BEARER)
    @tickets_blp.arguments(TicketQuerySchema, location="query", as_kwargs=True)
    @tickets_blp.response(200, TicketPageSchema)
    @tickets_blp.alt_response(401, response="UNAUTHORIZED", description="Not signed in")
    def get(self, page: int, page_size: int):
        """List your tickets

        Upcoming events first (soonest first), then past ones; each with its event, ticket
        type, code and status.
        """
        result = orders.list_tickets(db.session(), current_user.id, page, page_size)
        return result.envelope(
            [
                {
                    "id": ticket.id,
                    "code": ticket.code,
                    "status": ticket.status,
                    "checked_in_at": ticket.checked_in_at,
                    "order_id": item.order_id,
                    "event": {
                        "id": item.event_id,
                        "title": item.event_title,
                        "starts_at": item.event_starts_at,
                    },
                    "ticket_type": {"id": item.ticket_type_id, "name": item.ticket_type_name},
                }
                for ticket, item in result.items
            ]
        )
