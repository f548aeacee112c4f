"""Cart routes. A request's cart is the signed-in user's (Authorization) or the guest's
(X-Cart-Token); with both, the guest cart is merged into the user's."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request

from shop.cart.schemas import CartEnvelopeSchema, CartItemCreateSchema, CartItemUpdateSchema
from shop.extensions import db
from shop.openapi import ID, Blueprint
from shop.services import carts

blp = Blueprint(
    "cart", __name__, url_prefix="/api/cart", description="Your cart: its lines hold seats"
)

CART_TOKEN_HEADER = "X-Cart-Token"
OWNER_DOC = {
    "parameters": [
        {
            "in": "header",
            "name": CART_TOKEN_HEADER,
            "required": False,
            "schema": {"type": "string"},
            "description": "A guest's cart token (from `cartToken` of the first cart response)."
            " Signed in and sent together, the guest cart merges into yours.",
        }
    ],
    # Signing in is optional here: a guest cart works without a token.
    "security": [{}, {"bearerAuth": []}],
}
# Guest carts: the token to send back (declared once in shop/openapi.py, referenced by name).
TOKEN_HEADER_DOC = {CART_TOKEN_HEADER: CART_TOKEN_HEADER}


def current_owner() -> carts.CartOwner:
    """Who the request acts for. An invalid or expired access token is a 401, never a silent
    fallback to a guest cart."""
    verify_jwt_in_request(optional=True)
    identity = get_jwt_identity()
    return carts.CartOwner(
        user_id=int(identity) if identity is not None else None,
        guest_token=request.headers.get(CART_TOKEN_HEADER) or None,
    )


def hold_policy() -> carts.HoldPolicy:
    config = current_app.config
    return carts.HoldPolicy(
        minutes=config["CART_HOLD_MINUTES"],
        max_renewals=config["CART_HOLD_MAX_RENEWALS"],
        lock_timeout_ms=config["CHECKOUT_LOCK_TIMEOUT_MS"],
    )


def respond(outcome: carts.CartOutcome, status: int = 200):
    """Commit the change (if any) and answer with the cart, handing back a guest's token."""
    db.session.commit()
    view = carts.cart_view(db.session, outcome)
    headers = {CART_TOKEN_HEADER: outcome.guest_token} if outcome.guest_token else {}
    return {"data": view}, status, headers


@blp.route("")
class CartResource(MethodView):
    @blp.doc(**OWNER_DOC)
    @blp.response(200, CartEnvelopeSchema, headers=TOKEN_HEADER_DOC)
    @blp.alt_response(
        404, response="NOT_FOUND", description="The guest cart token matches no open cart"
    )
    def get(self):
        """Show your cart

        Current prices, line totals, subtotal, how long the seats are held (`holdExpiresAt`)
        and `warnings` about anything that changed: a price, a hold that expired, sales that
        ended, seats that ran out. Signed in without a cart: an empty cart. A guest token that
        matches no open cart is a 404 (drop the header to start over).
        """
        outcome = carts.find_cart(db.session, current_owner())
        return respond(outcome)

    @blp.doc(**OWNER_DOC)
    @blp.response(200, CartEnvelopeSchema, headers=TOKEN_HEADER_DOC)
    @blp.alt_response(404, response="NOT_FOUND", description="No cart to empty")
    def delete(self):
        """Empty your cart

        Removes every line and releases the held seats. Emptying an empty cart is harmless.
        """
        return respond(carts.empty_cart(db.session, current_owner(), hold_policy()))


@blp.route("/items")
class CartItems(MethodView):
    @blp.doc(**OWNER_DOC)
    @blp.arguments(CartItemCreateSchema)
    @blp.response(201, CartEnvelopeSchema, headers=TOKEN_HEADER_DOC)
    @blp.alt_response(
        404, response="NOT_FOUND", description="Unknown ticket type, event or cart token"
    )
    @blp.alt_response(
        409, response="CONFLICT", description="Not on sale, not enough seats, other currency"
    )
    def post(self, body):
        """Add tickets to your cart

        Send `ticketTypeId` (or `eventId` alone when that event has a single ticket type on
        sale) and `quantity`. Adding a ticket type already in the cart raises that line. The
        seats are held for you until `holdExpiresAt`. Without a cart token or sign-in, a guest
        cart is created: keep its `cartToken` and send it as `X-Cart-Token` from then on.
        Refused, with the cart unchanged: more than are left (409), more than the per-order
        limit (422), tickets not on sale (409).
        """
        outcome = carts.add_item(
            db.session,
            current_owner(),
            hold_policy(),
            event_id=body.get("event_id"),
            ticket_type_id=body.get("ticket_type_id"),
            quantity=body["quantity"],
        )
        return respond(outcome, 201)


@blp.route(f"/items/<{ID}:itemId>")
class CartItem(MethodView):
    @blp.doc(**OWNER_DOC)
    @blp.arguments(CartItemUpdateSchema)
    @blp.response(200, CartEnvelopeSchema, headers=TOKEN_HEADER_DOC)
    @blp.alt_response(404, response="NOT_FOUND", description="No such line in your cart")
    @blp.alt_response(409, response="CONFLICT", description="Not enough seats, or not on sale")
    def put(self, body, itemId: int):  # path parameters are wire names, so camelCase
        """Change a line's quantity

        `itemId` is the cart line's id (from GET /api/cart), not the event's. A line of anyone
        else's cart is a 404, like one that does not exist.
        """
        outcome = carts.set_quantity(
            db.session, current_owner(), hold_policy(), item_id=itemId, quantity=body["quantity"]
        )
        return respond(outcome)

    @blp.doc(**OWNER_DOC)
    @blp.response(200, CartEnvelopeSchema, headers=TOKEN_HEADER_DOC)
    @blp.alt_response(404, response="NOT_FOUND", description="No such line in your cart")
    def delete(self, itemId: int):
        """Remove a line from your cart

        Its seats are released at once.
        """
        return respond(
            carts.remove_item(db.session, current_owner(), hold_policy(), item_id=itemId)
        )
