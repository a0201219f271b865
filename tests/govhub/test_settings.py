"""Production refuses the embedded defaults: every such setting is named in the error."""

from __future__ import annotations

import pytest

from govhub.settings import get_settings, reset_settings
from schemas import SettingsError


@pytest.fixture(autouse=True)
def _fresh_settings():
    reset_settings()
    yield
    reset_settings()


@pytest.mark.parametrize(
    ("missing", "env"),
    [
        pytest.param("GOVHUB_DB_URL", {"GOVHUB_LAKE_URL": "s3://lake/hub", "GOVHUB_CREDIT_TOKEN": "t"}, id="db"),
        pytest.param(
            "GOVHUB_LAKE_URL", {"GOVHUB_DB_URL": "postgresql+psycopg://h/db", "GOVHUB_CREDIT_TOKEN": "t"}, id="lake"
        ),
        pytest.param(
            "GOVHUB_CREDIT_TOKEN",
            {"GOVHUB_DB_URL": "postgresql+psycopg://h/db", "GOVHUB_LAKE_URL": "s3://lake/hub"},
            id="token",
        ),
    ],
)
def test_production_names_the_missing_setting(monkeypatch: pytest.MonkeyPatch, missing: str, env: dict) -> None:
    monkeypatch.setenv("GOVHUB_ENVIRONMENT", "production")
    for name in ("GOVHUB_DB_URL", "GOVHUB_LAKE_URL", "GOVHUB_CREDIT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^setting {missing} is invalid"):
        get_settings()


def test_development_keeps_the_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVHUB_ENVIRONMENT", raising=False)
    monkeypatch.delenv("GOVHUB_DB_URL", raising=False)
    assert get_settings().metadata_url.startswith("sqlite:///")


@pytest.mark.parametrize(("value", "allowed"), [(None, False), ("false", False), ("true", True)])
def test_plain_http_to_the_object_store_only_when_set(
    monkeypatch: pytest.MonkeyPatch, value: str | None, allowed: bool
) -> None:
    monkeypatch.setenv("GOVHUB_LAKE_URL", "s3://lake/hub")
    monkeypatch.setenv("GOVHUB_S3_ACCESS_KEY", "key")
    monkeypatch.setenv("GOVHUB_S3_SECRET_KEY", "secret")
    if value is None:
        monkeypatch.delenv("GOVHUB_S3_ALLOW_HTTP", raising=False)
    else:
        monkeypatch.setenv("GOVHUB_S3_ALLOW_HTTP", value)
    options = get_settings().lake_storage_options or {}
    assert (options.get("AWS_ALLOW_HTTP") == "true") is allowed
