"""Checkout, orders and tickets (week 5)."""

from shop.orders.checkout_routes import checkout_blp
from shop.orders.routes import orders_blp, tickets_blp

blueprints = (checkout_blp, orders_blp, tickets_blp)
