"""The public catalogue (week 3): events, categories and venues. No sign-in needed."""

from shop.catalog.routes import categories_blp, events_blp, venues_blp

blueprints = (events_blp, categories_blp, venues_blp)
