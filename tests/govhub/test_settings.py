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


def test_keys_default_beside_home_and_follow_a_mounted_folder(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GOVHUB_KEYS_DIR", raising=False)
    assert get_settings().keys_dir == tmp_path / "home" / "keys"
    reset_settings()
    monkeypatch.setenv("GOVHUB_KEYS_DIR", str(tmp_path / "run-secrets" / "govhub"))
    assert get_settings().keys_dir == tmp_path / "run-secrets" / "govhub"


def test_settings_come_from_mounted_secret_files_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "govhub_s3_secret_key").write_text("from-the-file\n")
    (secrets / "govhub_credit_token").write_text("token-from-the-file")
    (secrets / "govhub_delivery_secret").write_text("ab" * 32)
    monkeypatch.setenv("GOVHUB_SECRETS_DIR", str(secrets))
    monkeypatch.delenv("GOVHUB_S3_SECRET_KEY", raising=False)
    monkeypatch.delenv("GOVHUB_DELIVERY_SECRET", raising=False)
    monkeypatch.setenv("GOVHUB_CREDIT_TOKEN", "token-from-the-environment")
    settings = get_settings()
    assert settings.s3_secret_key == "from-the-file"
    assert settings.credit_token == "token-from-the-environment"
    from govhub.delivery_runner import delivery_secret

    assert delivery_secret(settings) == bytes.fromhex("ab" * 32)
    assert "abab" not in repr(settings)  # a secret setting never prints


def test_a_missing_secrets_folder_and_a_short_delivery_secret_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("GOVHUB_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(SettingsError, match="GOVHUB_SECRETS_DIR"):
        get_settings()
    monkeypatch.delenv("GOVHUB_SECRETS_DIR")
    reset_settings()
    monkeypatch.setenv("GOVHUB_DELIVERY_SECRET", "not hex")
    with pytest.raises(SettingsError, match=r"GOVHUB_DELIVERY_SECRET.*hex"):
        get_settings()


def test_an_object_store_inbox_carries_the_object_store_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas import load_contract

    monkeypatch.setenv("GOVHUB_NONTAX_INBOX", "s3://city/inbox/nontax")
    monkeypatch.setenv("GOVHUB_S3_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("GOVHUB_S3_ACCESS_KEY", "hub")
    monkeypatch.setenv("GOVHUB_S3_SECRET_KEY", "secret")
    config = get_settings().source_config(load_contract("payment"))
    assert config["inbox"] == "s3://city/inbox/nontax"
    assert config["storage_options"]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    reset_settings()
    monkeypatch.delenv("GOVHUB_S3_SECRET_KEY")
    with pytest.raises(SettingsError, match="s3:// inbox"):
        get_settings().source_config(load_contract("payment"))


def test_web_hosts_follow_the_lake_in_production_only_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVHUB_SERVING_REFRESH_SECONDS", raising=False)
    assert get_settings().serving_refresh_interval == 0
    reset_settings()
    monkeypatch.setenv("GOVHUB_SERVING_REFRESH_SECONDS", "5")
    assert get_settings().serving_refresh_interval == 5
