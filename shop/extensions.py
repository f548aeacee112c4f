"""Flask extensions, created unbound here and bound to the app in `create_app()`."""

from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from shop.models.base import Base
from shop.openapi import ShopApi
from shop.ratelimit import RouteLimiter, client_key

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
api = ShopApi()
cors = CORS()
# No default limits: only the routes that name a limit (signup, login) are limited.
limiter = RouteLimiter(key_func=client_key, default_limits=[])
