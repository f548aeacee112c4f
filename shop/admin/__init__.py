"""Admin API (role `admin`): catalogue management, sales reports, ticket check-in."""

from shop.admin.routes import blp

blueprints = (blp,)
