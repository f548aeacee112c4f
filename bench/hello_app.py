"""The smallest Flask app, served with the same gunicorn settings: the ceiling to compare with."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return {"data": "hello"}
