"""The smallest Flask app, served with the same gunicorn settings: the ceiling to compare with.

`app` is what sync workers serve; `asgi_app` is the same app behind the asyncio front that
production serves (shop/asgi.py), for the asgi worker."""

from flask import Flask

from shop.asgi import BufferedRequests, WsgiBridge

app = Flask(__name__)


@app.get("/")
def hello():
    return {"data": "hello"}


asgi_app = BufferedRequests(WsgiBridge(app), 64 * 1024)
