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
    # Every answer pays for this hook, so what does not change per request is worked out here,
    # once: the constant headers with their values, and whether CORS needs `Vary: Origin`.
    constant_headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
    ]
    if app.config["HSTS_SECONDS"]:
        hsts = f"max-age={app.config['HSTS_SECONDS']}; includeSubDomains"
        constant_headers.append(("Strict-Transport-Security", hsts))
    # (lower-case name, name, value): header names compare case-insensitively.
    defaults = [(name.lower(), name, value) for name, value in constant_headers]
    vary_by_origin = bool(app.config["CORS_ORIGINS"])

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        # A view may have set one of these itself: it keeps its value (setdefault, in one pass
        # over the headers instead of one per name).
        present = {name.lower() for name, _value in headers}
        for key, name, value in defaults:
            if key not in present:
                headers.add(name, value)
        if "csp_nonce" in g:
            headers["Content-Security-Policy"] = DOCS_CSP.format(nonce=g.csp_nonce)
        elif "content-security-policy" not in present:
            headers.add("Content-Security-Policy", API_CSP)
        path = request.path
        if path.startswith("/api/"):
            if "cache-control" not in present and not path.startswith("/api/docs"):
                headers.add("Cache-Control", "no-store")
            if vary_by_origin:
                # CORS headers depend on the Origin sent: a shared cache must keep one copy per
                # Origin, also of answers that carry no Access-Control-Allow-Origin.
                if "vary" in present:
                    response.vary.add("Origin")
                else:
                    headers.add("Vary", "Origin")
        return response
