"""The Flask app: `flask` (FLASK_APP), tests, and `asgi.py`, which gunicorn serves."""

from shop import create_app

app = create_app()
