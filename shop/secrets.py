"""The JWT signing secret: from the environment, or generated once per instance folder.

A secret written in the code is a secret anyone can read: a token forged with it is admin on
every deployment that forgot to set its own. So development generates a random secret the first
time it runs and keeps it in `instance/jwt-secret` (readable by its owner only; `instance/` is
never committed). Production never generates one: it refuses to start without a strong
`JWT_SECRET_KEY` (config.py), and refuses this development value if it was copied over.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from config import ConfigError

SECRET_FILE = "jwt-secret"


def development_secret(instance_path: str | os.PathLike) -> str:
    """The secret kept in `instance_path`, created (48 random bytes, mode 600) when missing."""
    path = Path(instance_path) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write a private temporary file, then link it into place: link() fails if another
        # process (a second gunicorn worker) got there first, and nobody reads a half-written
        # file.
        temporary = path.with_name(f"{SECRET_FILE}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


def configure_jwt_secret(app: Flask) -> None:
    if app.config.get("JWT_SECRET_KEY"):
        if app.config["ENV_NAME"] == "production":
            path = Path(app.instance_path) / SECRET_FILE
            if path.exists() and path.read_text().strip() == app.config["JWT_SECRET_KEY"]:
                raise ConfigError(
                    "JWT_SECRET_KEY is the development secret of this instance folder;"
                    " production needs its own."
                )
        return
    if app.config["ENV_NAME"] == "production":
        raise ConfigError("Production needs JWT_SECRET_KEY in the environment.")
    app.config["JWT_SECRET_KEY"] = development_secret(app.instance_path)
