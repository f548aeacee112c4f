"""render.yaml deploys what we run locally, wired the way Render's Blueprint spec expects."""

import secrets
from pathlib import Path

import pytest
import yaml

from shop import create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def blueprint():
    return yaml.safe_load((ROOT / "render.yaml").read_text())


@pytest.fixture(scope="module")
def web(blueprint):
    services = [s for s in blueprint["services"] if s["type"] == "web"]
    assert len(services) == 1
    return services[0]


def env(web) -> dict:
    return {item["key"]: item for item in web["envVars"]}


def test_web_service_builds_migrates_and_serves_with_our_gunicorn_config(web):
    assert web["runtime"] == "python"
    assert web["buildCommand"] == "pip install --require-hashes -r requirements.txt"
    migrate, provision, serve = web["startCommand"].split(" && ")
    assert migrate == "flask db upgrade"
    assert provision == "flask provision"
    assert serve == "gunicorn -c gunicorn.conf.py asgi:app"
    assert web["healthCheckPath"] == "/api/health"
    assert (ROOT / "gunicorn.conf.py").exists() and (ROOT / "asgi.py").exists()


def test_database_url_comes_from_the_blueprints_database(web, blueprint):
    database_url = env(web)["DATABASE_URL"]
    assert set(database_url) == {"key", "fromDatabase"}
    assert database_url["fromDatabase"]["property"] == "connectionString"
    names = {db["name"] for db in blueprint["databases"]}
    assert database_url["fromDatabase"]["name"] in names


def test_secrets_are_generated_or_set_in_the_dashboard_never_committed(web):
    variables = env(web)
    assert variables["JWT_SECRET_KEY"] == {"key": "JWT_SECRET_KEY", "generateValue": True}
    assert variables["SHOP_ENV"]["value"] == "production"
    for name, item in variables.items():
        if any(word in name for word in ("SECRET", "PASSWORD", "TOKEN")):
            assert "value" not in item, f"{name} has a committed value"


def test_first_admin_and_demo_data_are_set_in_the_dashboard(web):
    """The free plan has no Shell: the start command's `flask provision` reads these."""
    variables = env(web)
    for name in ("ADMIN_EMAIL", "ADMIN_PASSWORD", "SEED_DEMO"):
        assert variables[name] == {"key": name, "sync": False}


def test_gunicorn_binds_renders_port_on_all_interfaces(monkeypatch):
    monkeypatch.setenv("PORT", "10000")
    monkeypatch.delenv("HOST", raising=False)
    settings: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 - our own config file
    assert settings["bind"] == "0.0.0.0:10000"
    assert settings["worker_class"] == "asgi"
    assert settings["wsgi_app"] == "asgi:app"


def test_gunicorn_workers_keep_the_loaded_app_out_of_the_garbage_collectors_walks():
    """gunicorn.conf.py freezes what a worker loaded (gc.freeze), so full collections do not
    walk the app's startup objects on every pass."""
    import gc

    settings: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 - our own config file
    gc.unfreeze()
    try:
        settings["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()  # (this test process is not a worker)


def test_production_app_starts_with_rendered_settings(app, monkeypatch):
    from config import ProductionConfig
    from shop.extensions import limiter
    from shop.services import passwords

    monkeypatch.setattr(ProductionConfig, "DATABASE_URL", "postgres://shop:pw@dpg-example/shop")
    monkeypatch.setattr(ProductionConfig, "JWT_SECRET_KEY", secrets.token_urlsafe(48))
    try:
        production = create_app("production")
        assert production.config["SQLALCHEMY_DATABASE_URI"] == (
            "postgresql+psycopg://shop:pw@dpg-example/shop"
        )
        assert production.config["RATELIMIT_ENABLED"] is True
        assert not production.debug and not production.testing
    finally:
        # Extensions are process-wide: give the rest of the suite its test settings back.
        limiter.enabled = app.config["RATELIMIT_ENABLED"]
        passwords.configure(
            app.config["ARGON2_TIME_COST"],
            app.config["ARGON2_MEMORY_KIB"],
            app.config["ARGON2_PARALLELISM"],
        )
        passwords.bound_concurrency(app.config["PASSWORD_HASH_SLOTS"], None)


def test_readme_shows_the_start_command_render_runs(web):
    readme = (ROOT / "README.md").read_text()
    assert f"`{web['startCommand']}`" in readme
    for name in ("ADMIN_EMAIL", "ADMIN_PASSWORD", "SEED_DEMO", "External Database URL"):
        assert name in readme
