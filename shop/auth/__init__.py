"""Accounts and JWT (week 4): signup, login, me, refresh, logout."""

from shop.auth.routes import blp

blueprints = (blp,)
