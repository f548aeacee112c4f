"""Security headers on every answer: what browsers may do with our responses.

- JSON answers get a Content-Security-Policy that allows nothing (`default-src 'none'`): an API
  response rendered as a page by mistake can run no script and load nothing.
- The Swagger UI page (`/api/docs`) allows only what it needs: scripts and styles from this
  origin (its assets are served by the app), its one inline initialiser by a per-response nonce,
  Swagger UI's inline style attributes and data: images, and calls back to this origin ("Try it
  out"). Nothing from a CDN, no frames, no plugins.
- With CORS configured, every API answer says `Vary: Origin`.
- Production adds HSTS (`HSTS_SECONDS`): browsers then refuse plain HTTP to this host.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'none'"
)


def csp_nonce() -> str:
    """A fresh random nonce for this response's inline script (the same within one request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def register_security_headers(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if "csp_nonce" in g:
            response.headers["Content-Security-Policy"] = DOCS_CSP.format(nonce=g.csp_nonce)
        else:
            response.headers.setdefault("Content-Security-Policy", API_CSP)
        if app.config["HSTS_SECONDS"]:
            response.headers.setdefault(
                "Strict-Transport-Security",
                f"max-age={app.config['HSTS_SECONDS']}; includeSubDomains",
            )
        if request.path.startswith("/api/") and not request.path.startswith("/api/docs"):
            response.headers.setdefault("Cache-Control", "no-store")
        if app.config["CORS_ORIGINS"] and request.path.startswith("/api/"):
            # CORS headers depend on the Origin sent: a shared cache must keep one copy per
            # Origin, also of answers that carry no Access-Control-Allow-Origin.
            response.vary.add("Origin")
        return response
