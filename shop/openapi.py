"""flask-smorest's Api, adapted: problem+json errors in the document, Swagger UI served offline."""

from __future__ import annotations

import functools
import http
import weakref
from pathlib import Path
from typing import Any

import flask_smorest
import flask_swagger_ui
from apispec import BasePlugin
from flask import Blueprint as FlaskBlueprint
from flask import Flask, redirect, request, send_from_directory
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import RAISE
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import MultiDict

from shop.errors import handle_http_exception
from shop.json_input import load_json_body
from shop.problems import HTTP_PROBLEMS, PROBLEM_MIMETYPE, PROBLEM_TITLES, ProblemSchema
from shop.services.errors import ValidationFailed

SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"

# URL converter for ids: a positive int that fits PostgreSQL's `integer`. Anything else (0,
# -1, 99999999999) matches no route, so it is a 404 like any unknown id, never a database error.
ID = "int(min=1, max=2147483647)"


# One stable, readable operationId per operation: client generators name their functions after
# it (`list_events`, `add_cart_item`), so renaming one is a breaking change for every client.
OPERATION_IDS: dict[tuple[str, str], str] = {
    ("get", "/api/health"): "getHealth",
    ("get", "/api/events"): "listEvents",
    ("get", "/api/events/{eventId}"): "getEvent",
    ("get", "/api/categories"): "listCategories",
    ("get", "/api/venues"): "listVenues",
    ("post", "/api/auth/signup"): "signUp",
    ("post", "/api/auth/login"): "logIn",
    ("get", "/api/auth/me"): "getMe",
    ("post", "/api/auth/refresh"): "refreshAccessToken",
    ("post", "/api/auth/logout"): "logOut",
    ("get", "/api/cart"): "getCart",
    ("delete", "/api/cart"): "emptyCart",
    ("post", "/api/cart/items"): "addCartItem",
    ("put", "/api/cart/items/{itemId}"): "updateCartItem",
    ("delete", "/api/cart/items/{itemId}"): "removeCartItem",
    ("post", "/api/cart/checkout"): "checkout",
    ("get", "/api/orders"): "listOrders",
    ("get", "/api/orders/{orderId}"): "getOrder",
    ("post", "/api/orders/{orderId}/cancel"): "cancelOrder",
    ("get", "/api/tickets"): "listTickets",
    ("post", "/api/admin/categories"): "createCategory",
    ("put", "/api/admin/categories/{categoryId}"): "replaceCategory",
    ("patch", "/api/admin/categories/{categoryId}"): "updateCategory",
    ("delete", "/api/admin/categories/{categoryId}"): "deleteCategory",
    ("post", "/api/admin/venues"): "createVenue",
    ("put", "/api/admin/venues/{venueId}"): "replaceVenue",
    ("patch", "/api/admin/venues/{venueId}"): "updateVenue",
    ("delete", "/api/admin/venues/{venueId}"): "deleteVenue",
    ("get", "/api/admin/events"): "listAdminEvents",
    ("post", "/api/admin/events"): "createEvent",
    ("get", "/api/admin/events/{eventId}"): "getAdminEvent",
    ("put", "/api/admin/events/{eventId}"): "replaceEvent",
    ("patch", "/api/admin/events/{eventId}"): "updateEvent",
    ("delete", "/api/admin/events/{eventId}"): "deleteEvent",
    ("post", "/api/admin/events/{eventId}/publish"): "publishEvent",
    ("post", "/api/admin/events/{eventId}/cancel"): "cancelEvent",
    ("post", "/api/admin/events/{eventId}/ticket-types"): "createTicketType",
    ("put", "/api/admin/ticket-types/{ticketTypeId}"): "replaceTicketType",
    ("patch", "/api/admin/ticket-types/{ticketTypeId}"): "updateTicketType",
    ("delete", "/api/admin/ticket-types/{ticketTypeId}"): "deleteTicketType",
    ("get", "/api/admin/reports/sales"): "getSalesReport",
    ("get", "/api/admin/reports/overview"): "getSalesOverview",
    ("post", "/api/admin/tickets/{code}/check-in"): "checkInTicket",
}

# Response headers, declared once and referenced by name (`headers={"ETag": "ETag"}`).
RESPONSE_HEADERS: dict[str, dict] = {
    "X-Request-ID": {
        "description": "The request's id (yours if you sent a sane `X-Request-ID`, else a new"
        " one); the server's log line for the request carries it. Quote it when reporting.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the current window (rate-limited routes)",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "When the window resets, in seconds since the Unix epoch",
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": "`Bearer`: send an access token as `Authorization: Bearer <token>`",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "Version of this answer; send it back as `If-None-Match` to get a 304"
        " when nothing changed",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "Where the created resource lives",
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same"
        " `Idempotency-Key`, replayed rather than run again",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "X-Cart-Token": {
        "description": "Guest carts only: the cart token to send back as `X-Cart-Token`",
        "schema": {"type": "string"},
    },
}
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# Routes with a rate limit (Flask-Limiter adds its headers to all their answers).
RATE_LIMITED_OPERATIONS = {"signUp", "logIn"}
# Headers some error responses carry, by status.
PROBLEM_HEADERS: dict[int, tuple[str, ...]] = {
    401: ("WWW-Authenticate",),
    429: ("Retry-After", *RATE_LIMIT_HEADERS),
    503: ("Retry-After",),
}


def _problem_example(status: int, code: str, detail: str, **members) -> dict:
    return {
        "type": f"urn:shop:problem:{code}",
        "title": PROBLEM_TITLES[code],
        "status": status,
        "detail": detail,
        "code": code,
        **members,
    }


# What Swagger UI shows for each error status: a realistic problem of that status.
PROBLEM_EXAMPLES: dict[int, dict] = {
    401: _problem_example(
        401,
        "token_missing",
        "This route needs you signed in: send `Authorization: Bearer <accessToken>`"
        " (Missing Authorization Header).",
    ),
    403: _problem_example(
        403, "forbidden", "This route is for admins. Sign in with an admin account."
    ),
    404: _problem_example(
        404, "not_found", "There is nothing at this address. Check the id in the URL."
    ),
    409: _problem_example(
        409,
        "insufficient_availability",
        "Only 2 Standard tickets are left; you asked for 5. Lower the quantity to at most 2.",
        errors={"quantity": ["At most 2 available."]},
        available=2,
    ),
    422: _problem_example(
        422,
        "validation_failed",
        "Invalid value for `quantity`. Fix what `errors` lists and try again.",
        errors={"quantity": ["Must be a whole number from 1 to 100."]},
    ),
    429: _problem_example(
        429,
        "rate_limited",
        "Too many requests (10 per 1 minute). Wait the number of seconds in the Retry-After"
        " header, then try again.",
    ),
    503: _problem_example(
        503,
        "database_unavailable",
        "The service cannot reach its database right now. Retry in a few seconds.",
    ),
}


def problem_response(status: int, code: str, detail: str, description: str) -> dict:
    """`alt_response` arguments for an error a route answers with one particular code, so Swagger
    UI shows that problem rather than the status's general example."""
    return {
        "schema": ProblemSchema,
        "content_type": PROBLEM_MIMETYPE,
        "description": description,
        "example": _problem_example(status, code, detail),
        "headers": {name: name for name in PROBLEM_HEADERS.get(status, ())},
    }


class ContractPlugin(BasePlugin):
    """What client generators rely on, added to every operation as flask-smorest documents it:
    its operationId, `security: []` on public operations, `allowEmptyValue` on query parameters
    (an empty one means "not given"), the `X-Request-ID` (and, on rate-limited routes,
    `X-RateLimit-*`) header on every response, and named schemas for closed sets of values."""

    def init_spec(self, spec):
        self.spec = spec

    def schema_helper(self, name, definition, **kwargs):
        # A closed set of values used in several schemas (`metadata={"enum": [...],
        # "x-enum-name": "TicketStatus"}`) becomes one named schema, referenced from each use:
        # generated clients then have one TicketStatus type, not one per schema that uses it.
        for prop_name, prop in definition.get("properties", {}).items():
            enum_name = prop.pop("x-enum-name", None)
            if enum_name is None:
                continue
            if enum_name not in self.spec.components.schemas:
                self.spec.components.schema(
                    enum_name, {"type": "string", "enum": list(prop["enum"])}
                )
            described = {"description": prop["description"]} if "description" in prop else {}
            definition["properties"][prop_name] = {
                "$ref": f"#/components/schemas/{enum_name}",
                **described,
            }

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            operation_id = OPERATION_IDS.get((method, path))
            if operation_id is None:
                raise LookupError(
                    f"{method.upper()} {path} has no operationId: add one to OPERATION_IDS"
                )
            operation["operationId"] = operation_id
            # No security requirement means "public": say so, rather than leave it unsaid.
            operation.setdefault("security", [])
            for parameter in operation.get("parameters", []):
                if isinstance(parameter, dict) and parameter.get("in") == "query":
                    # ShopArgumentsParser reads `?city=` as "not given" (what HTML forms send).
                    parameter.setdefault("allowEmptyValue", True)
            rate_limited = operation_id in RATE_LIMITED_OPERATIONS
            for response in operation.get("responses", {}).values():
                if not isinstance(response, dict):
                    continue  # a shared response component: documented once, below
                headers = response.setdefault("headers", {})
                headers.setdefault("X-Request-ID", "X-Request-ID")
                if rate_limited:
                    # Flask-Limiter sends Retry-After with every answer of a limited route.
                    for name in (*RATE_LIMIT_HEADERS, "Retry-After"):
                        headers.setdefault(name, name)


class ShopApi(Api):
    """Api whose error responses are documented and sent as RFC 9457 problems."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app=None, *, spec_kwargs=None, **kwargs):
        spec_kwargs = dict(spec_kwargs or {})
        spec_kwargs.setdefault("extra_plugins", [ContractPlugin()])
        super().__init__(app, spec_kwargs=spec_kwargs, **kwargs)

    def handle_http_exception(self, error):
        return handle_http_exception(error)

    def _register_pagination_header(self):
        # We paginate in the body (`meta`), not with flask-smorest's X-Pagination header.
        pass

    def _register_responses(self):
        # Same as flask-smorest's, but error bodies are `application/problem+json`, each status
        # shows a realistic problem of its own, and their headers are documented.
        for name, header in RESPONSE_HEADERS.items():
            self.spec.components.header(name, header)
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
                example = PROBLEM_EXAMPLES.get(status) or self._example_for(status)
                if example is not None:
                    response["example"] = example
            response["headers"] = {
                name: name for name in ("X-Request-ID", *PROBLEM_HEADERS.get(status, ()))
            }
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {
            "description": "Any other error, as a problem",
            "schema": self.ERROR_SCHEMA,
            "example": self._example_for(500),
            "headers": {"X-Request-ID": "X-Request-ID"},
        }
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    @staticmethod
    def _example_for(status: int) -> dict | None:
        if status not in HTTP_PROBLEMS:
            return None
        code, detail = HTTP_PROBLEMS[status]
        return _problem_example(status, code, detail)


def register_docs_routes(app: Flask) -> None:
    """Swagger UI assets from the installed flask-swagger-ui wheel, and `/docs` for the course."""
    docs = FlaskBlueprint("docs_assets", __name__)

    @docs.get("/api/docs/assets/<path:filename>")
    def swagger_asset(filename: str):
        return send_from_directory(SWAGGER_DIST, filename, max_age=86400)

    @docs.get("/docs")
    def course_docs_redirect():
        return redirect("/api/docs", code=302)

    app.register_blueprint(docs)


class ShopArgumentsParser(FlaskParser):
    # Unknown query parameters are refused (422 naming them) like unknown body fields: a typo such
    # as `pagesize` must not be silently ignored.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE}

    def _raw_load_json(self, req):
        # Hostile JSON (deep nesting, huge integers, lone surrogates) is a 400, never a 500.
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        return load_json_body(raw) if raw else core.missing

    def load_querystring(self, req, schema):
        # An HTML form sends its empty fields too (`?q=&city=&from=`): an empty value means
        # "not given", so it gets the default or no filter rather than a 422.
        pairs = ((name, value) for name, value in req.args.items(multi=True) if value != "")
        if self._has_list_fields(schema):
            return self._makeproxy(MultiDict(pairs), schema)
        # Fast path for schemas of single values (all of ours): a plain dict of each
        # parameter's first value, which is what webargs' proxy would hand marshmallow for
        # them. The proxy looks every field of the schema up in a MultiDict, and each absent
        # one raises and catches a KeyError inside werkzeug: ~15 µs of a listing's parsing.
        given: dict[str, str] = {}
        for name, value in pairs:
            given.setdefault(name, value)
        return given

    _list_fields: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _has_list_fields(self, schema) -> bool:
        """Whether `schema` has a field that takes a repeated parameter as a list (decided
        once per schema, as webargs' proxy decides it)."""
        found = self._list_fields.get(schema)
        if found is None:
            proxy = self._makeproxy(MultiDict(), schema)
            found = self._list_fields[schema] = bool(proxy.multiple_keys)
        return found


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with our arguments parser. Every resource module uses this one."""

    ARGUMENTS_PARSER = ShopArgumentsParser()

    # Fast path, on every request: flask-smorest's `alt_response` and `response` decorators
    # document a response and also wrap the view in a function called on every request. The
    # `alt_response` wrapper only calls the view; the `response` wrapper serializes what the
    # view returns with the schema, or returns a finished `Response` as it is. So a view that
    # builds its own Response (the catalogue's detail and listing: PostgreSQL wrote the body)
    # uses `built_response`, and no view gets `alt_response`'s wrapper: the same document,
    # ~14 µs less CPU per event detail in-process (175 -> 161, the route with and without the
    # wrappers). The document is the decorators' own (`_apidoc`), which flask-smorest reads
    # when the route is registered.

    def alt_response(self, *args, **kwargs):
        """`flask_smorest.Blueprint.alt_response`: documents another response the view may
        give, without wrapping the view (the wrapper would only call it)."""
        return _documentation_only(super().alt_response(*args, **kwargs))

    def built_response(self, *args, **kwargs):
        """`response` for a view that returns a finished `flask.Response` (status 200 and its
        headers set by the view): documented as `response` documents it, and the view's
        Response goes out without the wrapper, which would return it as it is."""
        return _documentation_only(super().response(*args, **kwargs))

    def arguments(self, schema, *args, location="json", required=True, **kwargs):
        # webargs builds a new instance of a schema *class* on every request (deep-copying its
        # fields: a third of a cached listing's CPU); an instance is built once and reused.
        if isinstance(schema, type):
            schema = schema()
        decorator = super().arguments(schema, *args, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return decorator

        def require_body(view):
            parsed = decorator(view)

            # webargs reads a missing body as `{}`, which a PATCH schema would accept: a
            # route documented with a required body must get one.
            @functools.wraps(parsed)
            def wrapper(*view_args, **view_kwargs):
                if not request.get_data(cache=True):
                    raise ValidationFailed(
                        "This route needs a JSON body. Send one with Content-Type:"
                        " application/json.",
                        errors={"_body": ["Missing request body."]},
                    )
                return parsed(*view_args, **view_kwargs)

            return wrapper

        return require_body


def _documentation_only(documenting):
    """A decorator that gives the view what `documenting` would document (its `_apidoc`)
    and returns the view itself rather than `documenting`'s wrapper around it."""

    def decorator(view):
        wrapper = documenting(view)
        view._apidoc = wrapper._apidoc
        return view

    return decorator
