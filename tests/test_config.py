"""Configuration: URLs Render hands out work, production refuses unsafe settings."""

import secrets

import pytest

from config import ConfigError, ProductionConfig
from shop.database import normalize_database_url


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:p@host:5432/db",
        "postgresql://u:p@host:5432/db",
        "postgresql+psycopg2://u:p@host:5432/db",
        "postgresql+psycopg://u:p@host:5432/db",
    ],
)
def test_every_postgres_url_form_is_driven_by_psycopg3(url):
    assert normalize_database_url(url) == "postgresql+psycopg://u:p@host:5432/db"


def test_production_refuses_to_start_without_secret_and_database(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "JWT_SECRET_KEY", None)
    monkeypatch.setattr(ProductionConfig, "DATABASE_URL", None)
    with pytest.raises(ConfigError, match="DATABASE_URL, JWT_SECRET_KEY"):
        ProductionConfig.validate()


def test_production_refuses_a_short_secret(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "JWT_SECRET_KEY", "short")
    monkeypatch.setattr(ProductionConfig, "DATABASE_URL", "postgres://u:p@h/db")
    with pytest.raises(ConfigError, match="shorter than 32 characters"):
        ProductionConfig.validate()


def test_production_accepts_real_settings(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "JWT_SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setattr(ProductionConfig, "DATABASE_URL", "postgres://u:p@h/db")
    ProductionConfig.validate()


def test_create_app_in_production_without_secret_fails(monkeypatch):
    from shop import create_app

    monkeypatch.setattr(ProductionConfig, "JWT_SECRET_KEY", None)
    with pytest.raises(ConfigError):
        create_app("production")
