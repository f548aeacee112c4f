"""How rate-limited clients are told apart."""

from flask import request


def client_key() -> str:
    """The client's address as the proxy in front of us saw it.

    Behind Render's load balancer `remote_addr` is the balancer; ProxyFix (one trusted hop,
    configured in the app factory) puts the real client there.
    """
    return request.remote_addr or "unknown"
