"""gunicorn settings for every environment (Render included): sync workers, our own access log."""

import os

# Render sets PORT and needs 0.0.0.0; scripts/server sets HOST=127.0.0.1 for local use.
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"  # noqa: S104
# Sync workers: measured steadier than gthread on small machines (docs/benchmarks in README).
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 2
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
