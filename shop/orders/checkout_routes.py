"""The checkout route, POST /api/cart/checkout (week 5): its URL is the cart's, but it makes an
order, so it lives with the orders (the packages follow the course's weeks; the cart is week 4).
Its own blueprint gives it its own section ("checkout") in the API docs."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import current_user

from shop.cart.routes import cart_token_parameter, guest_cart_merged_first
from shop.extensions import db
from shop.idempotency import HEADER_DOC as IDEMPOTENCY_HEADER_DOC
from shop.idempotency import commit_unless_keyed, idempotent, keyed
from shop.jwt_manager import jwt_required
from shop.openapi import Blueprint
from shop.orders.presenter import placed_order_body
from shop.orders.schemas import CheckoutSchema, OrderEnvelopeSchema
from shop.services import checkout

checkout_blp = Blueprint(
    "checkout", __name__, url_prefix="/api/cart", description="Turn your cart into an order"
)

CHECKOUT_DOC = {
    "security": [{"bearerAuth": []}],
    "parameters": [
        IDEMPOTENCY_HEADER_DOC,
        cart_token_parameter(
            "A guest cart's token: it merges into your cart first; if that changed your cart,"
            " the answer is 409 `cart_merged` and nothing is bought."
        ),
    ],
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
        seats: 409 with `errors.lines` saying, per line, what is left. A line over its ticket
        type's `maxPerOrder` as it is now (an admin may lower it after you filled your cart):
        422 `quantity_over_limit` with `errors.lines` giving each line's `limit`. `expectedTotal`
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
            # Without a key the transaction holds no claim, only the token's user read: the
            # checkout may end it (no savepoint; a refusal commits its reads, see place_order).
            transaction_is_ours=not keyed(),
        )
        # Without a key, commit before the order is written out as JSON: the tiers stay
        # locked until the commit, and every buyer of the tier waits for them. With a key,
        # @idempotent commits, once, after storing this answer with the key.
        commit_unless_keyed()
        # The body is built by hand (see placed_order_body), so flask-smorest passes the
        # response through; OrderEnvelopeSchema above still documents it.
        response = current_app.json.response(placed_order_body(order))
        response.status_code = 201
        response.headers["Location"] = f"/api/orders/{order.id}"
        return response
