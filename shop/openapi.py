"""flask-smorest's Api, adapted: problem+json errors in the document, Swagger UI served offline."""

from __future__ import annotations

import functools
import http
from pathlib import Path

import flask_smorest
import flask_swagger_ui
from flask import Blueprint as FlaskBlueprint
from flask import Flask, redirect, request, send_from_directory
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import RAISE
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from shop.errors import PROBLEM_MIMETYPE, ProblemSchema, ValidationFailed, handle_http_exception
from shop.json_input import load_json_body

SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"

# URL converter for ids: a positive int that fits PostgreSQL's `integer`. Anything else (0,
# -1, 99999999999) matches no route, so it is a 404 like any unknown id, never a database error.
ID = "int(min=1, max=2147483647)"


class ShopApi(Api):
    """Api whose error responses are documented and sent as RFC 9457 problems."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        return handle_http_exception(error)

    def _register_pagination_header(self):
        # We paginate in the body (`meta`), not with flask-smorest's X-Pagination header.
        pass

    def _register_responses(self):
        # Same as flask-smorest's, but error bodies are `application/problem+json`.
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error, as a problem", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


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


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with our arguments parser. Every resource module uses this one."""

    ARGUMENTS_PARSER = ShopArgumentsParser()

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
