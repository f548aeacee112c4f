"""ASGI entry point gunicorn serves (`gunicorn.conf.py`): the Flask app behind an asyncio front
that buffers whole requests, so slow and idle clients cannot hold a worker (shop/asgi.py)."""

from shop.asgi import build
from wsgi import app as flask_app

app = build(flask_app)
