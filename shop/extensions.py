"""Flask extensions, created unbound here and bound to the app in `create_app()`."""

from flask_cors import CORS
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from shop.jwt_manager import SingleParseJWTManager
from shop.models.base import Base
from shop.openapi import ShopApi
from shop.ratelimit import RouteLimiter, client_key

# `db.session` is a proxy (a scoped_session) that finds the Session of the current app context.
# Routes and commands hand a service `db.session()`, the Session itself: that is the type the
# services declare (`session: Session`), and what mypy checks them against.
db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = SingleParseJWTManager()
api = ShopApi()
cors = CORS()
# No default limits: only the routes that name a limit (signup, login) are limited.
limiter = RouteLimiter(key_func=client_key, default_limits=[])
