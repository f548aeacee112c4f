"""Carts (week 4): guest and signed-in carts whose lines hold seats."""

from shop.cart.routes import blp

blueprints = (blp,)
