"""The app as gunicorn serves it: an asyncio front that buffers requests, Flask behind it.

Why: a sync worker serves one *connection* at a time, so a client that connects and sends
nothing (or sends its headers one byte a second) takes a whole worker until the worker timeout;
a handful of such sockets stopped every request (issue 11). gunicorn's documentation assumes a
buffering proxy (nginx) in front of sync workers; this module is that proxy, in-process:

1. gunicorn's `asgi` worker reads connections in an asyncio event loop. An idle or slow socket
   is a parked coroutine that costs a few kilobytes and no thread.
2. `BufferedRequests` reads the whole body in the event loop too (chunked bodies included),
   stopping once it is over `MAX_CONTENT_LENGTH`, and hands the app a request with a
   `Content-Length`: so the size, media type and NUL guards see every body the same way.
3. `WsgiBridge` runs the Flask app on the complete request: in the event loop itself by default
   (`APP_THREADS=0`: one request at a time per worker, exactly like a sync worker, with no
   thread handoff), or in a pool of `APP_THREADS` threads. It collects the whole answer, which
   the event loop then writes however slowly the client reads.

`wsgi:app` (the plain Flask app) stays the entry point for `flask`, tests and anyone who puts
a real buffering proxy in front; `asgi:app` is what `gunicorn.conf.py` serves.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[..., Any]


class BufferedRequests:
    """ASGI middleware: read the request body completely before calling `app`."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before finishing its request: nothing to answer
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes or not message.get("more_body", False):
                break
        # Reading stops as soon as the body is over the limit: the app sees a Content-Length
        # over its limit and answers 413 without looking at the body.
        headers = [
            (name, value)
            for name, value in scope["headers"]
            if name not in (b"content-length", b"transfer-encoding")
        ]
        if body or scope["method"] in ("POST", "PUT", "PATCH"):
            headers.append((b"content-length", str(len(body)).encode()))
        buffered_scope = {**scope, "headers": headers}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                # The app asked for more than the body: the client is gone as far as it knows.
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(buffered_scope, replay, send)


class WsgiBridge:
    """ASGI app that runs a WSGI app on a complete, buffered request and sends its whole answer.

    With `threads=0` the app runs right in the event loop: the loop pauses for the few
    milliseconds a request takes, exactly like a sync worker, and no thread handoff is paid
    (measured fastest, bench/abuse.py). With `threads=N` it runs in a pool of N threads.
    Our answers are small JSON documents (Swagger UI's largest asset is ~1.5 MB), so the answer
    is collected in memory and then written by the event loop, however slowly the client reads.
    """

    def __init__(self, app: WSGIApp, threads: int = 0) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(threads, "wsgi") if threads > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        message = await receive()
        environ = wsgi_environ(scope, message.get("body", b""))
        if self.executor is None:
            status, headers, body = self.run(environ)
        else:
            loop = asyncio.get_running_loop()
            status, headers, body = await loop.run_in_executor(self.executor, self.run, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def run(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            started[:] = [status, headers]
            return chunks.append

        iterable = self.app(environ, start_response)
        try:
            chunks.extend(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        status, headers = started
        return (
            int(status.split(" ", 1)[0]),
            [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
            b"".join(chunks),
        )


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to start or stop: the Flask app was built at import.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an ASGI HTTP scope (strings are "bytes as latin-1")."""
    server_host, server_port = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": scope["path"].encode().decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": server_host,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = scope["client"][0], str(scope["client"][1])
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[name] = f"{environ[name]},{value}" if name in environ else value
    return environ


def build(flask_app: Flask) -> ASGIApp:
    """The ASGI application gunicorn's asgi worker serves."""
    return BufferedRequests(
        WsgiBridge(flask_app, flask_app.config["APP_THREADS"]),
        flask_app.config["MAX_CONTENT_LENGTH"],
    )
