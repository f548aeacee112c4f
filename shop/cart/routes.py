"""Cart routes. A request's cart is the signed-in user's (Authorization) or the guest's
(X-Cart-Token); with both, the guest cart is merged into the user's first, on every cart route
(checkout too), so every answer shows the one cart checkout buys. Checkout itself,
POST /api/cart/checkout, makes an order: it is week 5's, in `shop/orders/checkout_routes.py`."""

from __future__ import annotations

import functools

from flask import current_app, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt_identity

from shop.cart.presenter import cart_json, cart_view
from shop.cart.schemas import CartEnvelopeSchema, CartItemCreateSchema, CartItemUpdateSchema
from shop.extensions import db, limiter
from shop.jwt_manager import verify_jwt_in_request
from shop.openapi import ID, Blueprint
from shop.services import cart_items, carts
from shop.services.errors import CartMerged

blp = Blueprint(
    "cart", __name__, url_prefix="/api/cart", description="Your cart: its lines hold seats"
)

CART_TOKEN_HEADER = "X-Cart-Token"


def cart_token_parameter(description: str) -> dict:
    """The optional `X-Cart-Token` request header, documented with what this route does with it."""
    return {
        "in": "header",
        "name": CART_TOKEN_HEADER,
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


OWNER_DOC = {
    "parameters": [
        cart_token_parameter(
            "A guest's cart token (from `cartToken` of the first cart response). Signed in and"
            " sent together, the guest cart merges into yours."
        )
    ],
    # Signing in is optional here: a guest cart works without a token.
    "security": [{}, {"bearerAuth": []}],
}
# Guest carts: the token to send back (declared once in shop/openapi.py, referenced by name).
TOKEN_HEADER_DOC = {CART_TOKEN_HEADER: CART_TOKEN_HEADER}


def current_owner() -> carts.CartOwner:
    """Who the request acts for. An invalid or expired access token is a 401, never a silent
    fallback to a guest cart; so is an `Authorization` header in a form other than
    `Bearer <token>` (`bearer <token>`, another scheme): its sender meant to sign in, and
    a guest cart would hide that it did not work."""
    verify_jwt_in_request(optional=not request.headers.get("Authorization"))
    identity = get_jwt_identity()
    return carts.CartOwner(
        user_id=int(identity) if identity is not None else None,
        guest_token=request.headers.get(CART_TOKEN_HEADER) or None,
        client_address=request.remote_addr,
    )


def hold_policy() -> carts.HoldPolicy:
    config = current_app.config
    return carts.HoldPolicy(
        minutes=config["CART_HOLD_MINUTES"],
        max_renewals=config["CART_HOLD_MAX_RENEWALS"],
        max_minutes=config["CART_HOLD_MAX_MINUTES"],
        max_lines=config["CART_MAX_LINES"],
        max_seats_per_address=config["CART_MAX_SEATS_PER_ADDRESS"],
        lock_timeout_ms=config["CHECKOUT_LOCK_TIMEOUT_MS"],
    )


def guest_cart_merged_first(view):
    """Checkout buys what the last cart answer showed. A guest cart sent along is merged first
    and the merge committed; when that brought lines over, the checkout is refused (409
    `cart_merged`), so the client shows the merged cart before anything is bought. This runs
    before the Idempotency-Key is claimed, so nothing is stored under the key: the retry (the
    stale guest token now changes nothing) goes through."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        guest_token = request.headers.get(CART_TOKEN_HEADER)
        if guest_token:  # (signed in: @jwt_required() runs first; no token, no query)
            user_id = int(get_jwt_identity())
            outcome = carts.merge_guest_cart(db.session(), user_id, guest_token, hold_policy())
            db.session.commit()
            if outcome is not None and outcome.merged_lines:
                raise CartMerged()
        return view(*args, **kwargs)

    return wrapper


def guest_cart_limit() -> str:
    return current_app.config["RATELIMIT_GUEST_CARTS"]


def creates_no_guest_cart() -> bool:
    """Only a request with neither a cart token nor a sign-in creates a guest cart."""
    return bool(request.headers.get(CART_TOKEN_HEADER) or request.headers.get("Authorization"))


def respond(outcome: carts.CartOutcome, status: int = 200):
    """Answer with the cart, handing back a guest's token, and commit the change (if any).
    The view is read inside the change's transaction, under its locks, so it is what the
    commit makes true; reading it first spares re-reading the cart after the commit.

    The body is written by `cart_json` (what `CartEnvelopeSchema` would dump, without
    marshmallow's cost: see shop/cart/presenter.py); a Response passes flask-smorest's
    `@blp.response` as it is, and the schema still documents it."""
    view = cart_view(db.session(), outcome)
    db.session.commit()
    headers = {CART_TOKEN_HEADER: outcome.guest_token} if outcome.guest_token else {}
    return current_app.json.response({"data": cart_json(view)}), status, headers


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
        matches no open cart is a 404 (drop the header to start over). Signed in and sending an
        open guest cart's `X-Cart-Token`: the guest cart is merged into yours first (once;
        asking again changes nothing), so this shows the one cart checkout buys.
        """
        outcome = carts.find_cart(db.session(), current_owner(), hold_policy())
        return respond(outcome)

    @blp.doc(**OWNER_DOC)
    @blp.response(200, CartEnvelopeSchema, headers=TOKEN_HEADER_DOC)
    @blp.alt_response(404, response="NOT_FOUND", description="No cart to empty")
    def delete(self):
        """Empty your cart

        Removes every line and releases the held seats. Emptying an empty cart is harmless.
        """
        return respond(cart_items.empty_cart(db.session(), current_owner(), hold_policy()))


@blp.route("/items")
class CartItems(MethodView):
    # New guest carts are rate limited per client address; adds to an existing cart are not
    # (the per-address seat cap bounds what those can hold).
    decorators = [
        limiter.limit(guest_cart_limit, methods=["POST"], exempt_when=creates_no_guest_cart)
    ]

    @blp.doc(**OWNER_DOC)
    @blp.arguments(CartItemCreateSchema)
    @blp.response(201, CartEnvelopeSchema, headers=TOKEN_HEADER_DOC)
    @blp.alt_response(
        404, response="NOT_FOUND", description="Unknown ticket type, event or cart token"
    )
    @blp.alt_response(
        409,
        response="CONFLICT",
        description="Not on sale, not enough seats, other currency, a hold or line limit",
    )
    @blp.alt_response(
        429, response="TOO_MANY_REQUESTS", description="Too many new guest carts; see Retry-After"
    )
    def post(self, body):
        """Add tickets to your cart

        Send `ticketTypeId` (or `eventId` alone when that event has a single ticket type on
        sale) and `quantity`. Adding a ticket type already in the cart raises that line. The
        seats are held for you until `holdExpiresAt`. Without a cart token or sign-in, a guest
        cart is created: keep its `cartToken` and send it as `X-Cart-Token` from then on.
        Refused, with the cart unchanged: more than are left (409), more than the per-order
        limit (422), tickets not on sale (409), a new line in a cart that has 20 lines (409
        `cart_line_limit`), more than 20 seats held by the guest carts of one client address
        (409 `address_hold_limit`: sign in, check out or wait). New guest carts are rate limited
        per client address (429). A cart holds its seats for at most 60 minutes in all (the
        limits are configurable; see the README).
        """
        outcome = cart_items.add_item(
            db.session(),
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
        outcome = cart_items.set_quantity(
            db.session(), current_owner(), hold_policy(), item_id=itemId, quantity=body["quantity"]
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
            cart_items.remove_item(db.session(), current_owner(), hold_policy(), item_id=itemId)
        )
