"""Route guards beyond flask-jwt-extended's `jwt_required`."""

from __future__ import annotations

from functools import wraps

from flask_jwt_extended import current_user

from shop.jwt_manager import verify_jwt_in_request
from shop.services.errors import Forbidden


def admin_required(view):
    """Signed in (401 otherwise) as an account whose role in the database is `admin` (403
    otherwise). The role is read from the user row on every request, never from a token claim,
    so demoting an admin takes effect at once."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        if not current_user.is_admin:
            raise Forbidden("This route is for admins. Sign in with an admin account.")
        return view(*args, **kwargs)

    return wrapper
