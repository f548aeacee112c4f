"""gunicorn settings for every environment (Render included): asyncio workers in front of the
Flask app (shop/asgi.py), our own access log."""

import gc
import os

# Render sets PORT and needs 0.0.0.0; scripts/server sets HOST=127.0.0.1 for local use.
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"  # noqa: S104
# The asgi worker reads every connection in an event loop and hands Flask only complete requests
# (shop/asgi.py): idle and slow clients cannot hold a worker, which they did with sync workers
# (2 idle sockets stopped the API). Measured in bench/abuse.py against sync workers in one run.
worker_class = "asgi"
wsgi_app = "asgi:app"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# Seconds an idle kept-alive connection is kept open between requests (it costs no thread).
keepalive = 5
# The app logs one structured line per request (with the request id); gunicorn's would repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Workers recycle now and then, so a slow leak cannot grow forever.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
# Wide jitter so the workers do not all restart at the same moment.
max_requests_jitter = max_requests // 2
# gunicorn's control socket (for gunicornc) is unused here, and two masters on one machine (as the
# benches run them) would fight over its single default path.
control_socket_disable = True


def post_worker_init(worker):
    """Once a worker has loaded the app, its ~150 000 objects (modules, models, schemas, the
    OpenAPI document) live as long as the worker: `gc.freeze()` moves them out of the cyclic
    garbage collector's sight. Without it, every full collection (one every few thousand
    requests) walks all of them again: ~90 ms, about 8 µs of CPU per request on average
    (the catalogue's detail, in-process). Garbage made while starting is collected first, so
    nothing that is already garbage is kept forever."""
    gc.collect()
    gc.freeze()
