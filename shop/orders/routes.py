"""Order and ticket routes (signed in). Checkout is in `checkout_routes.py`.

The auth decorator sits on top of each method: a request is authenticated before its body or
query is even parsed, so anonymous callers learn nothing from validation errors.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user

from shop.extensions import db
from shop.idempotency import HEADER_DOC as IDEMPOTENCY_HEADER_DOC
from shop.idempotency import idempotent
from shop.jwt_manager import jwt_required
from shop.openapi import ID, Blueprint
from shop.orders.presenter import order_view
from shop.orders.schemas import (
    OrderEnvelopeSchema,
    OrderPageSchema,
    TicketPageSchema,
    TicketQuerySchema,
)
from shop.schemas import PageQuerySchema
from shop.services import orders

orders_blp = Blueprint("orders", __name__, url_prefix="/api/orders", description="Your orders")
tickets_blp = Blueprint("tickets", __name__, url_prefix="/api/tickets", description="Your tickets")

BEARER: dict[str, Any] = {"security": [{"bearerAuth": []}]}
IDEMPOTENT_DOC = {**BEARER, "parameters": [IDEMPOTENCY_HEADER_DOC]}


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
