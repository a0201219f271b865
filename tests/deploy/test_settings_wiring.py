"""The hub's settings in docker-compose.yml: real Settings fields, complete, and wired to the right services.

Field names come from `govhub.settings.Settings.model_fields` (never re-typed); each hub service's
rendered environment is loaded through `get_settings()` exactly as the container would.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from compose_support import environment
from sqlalchemy.engine import make_url

from govhub.settings import Settings, get_settings, reset_settings
from schemas import SettingsError, load_all

# Containers that run hub code: the web app, the init job, the CLI and the Celery workers (DAG tasks).
HUB_SERVICES = ("govhub-web", "govhub-init", "govhub-cli", "airflow-worker")
_PREFIX = Settings.model_config["env_prefix"]


def _setting_names() -> set[str]:
    return {f"{_PREFIX}{field}".upper() for field in Settings.model_fields}


def _required_production() -> list[str]:
    """Metadata store, lake and every S3 setting: without them a container silently uses the embedded default."""
    s3 = sorted(f"{_PREFIX}{field}".upper() for field in Settings.model_fields if field.startswith("s3_"))
    return [f"{_PREFIX}DB_URL", f"{_PREFIX}LAKE_URL", *s3]


def _govhub_image_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: s
        for name, s in compose["services"].items()
        if (s.get("build") or {}).get("dockerfile") == "deploy/Dockerfile"
    }


def _settings_for(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in environment(service).items():
        if key.startswith(_PREFIX):
            monkeypatch.setenv(key, value)
    reset_settings()
    return get_settings()


def test_required_production_settings_are_derived() -> None:
    required = _required_production()
    assert {"GOVHUB_DB_URL", "GOVHUB_LAKE_URL", "GOVHUB_S3_ACCESS_KEY", "GOVHUB_S3_SECRET_KEY"} <= set(required)
    assert set(required) <= _setting_names()


def test_every_govhub_variable_is_a_settings_field(compose: dict[str, Any]) -> None:
    known = _setting_names()
    for name, service in _govhub_image_services(compose).items():
        unknown = sorted(k for k in environment(service) if k.startswith(_PREFIX) and k not in known)
        assert not unknown, f"{name} sets {unknown}, which govhub.settings.Settings does not read"


def test_hub_services_set_every_required_production_setting(compose: dict[str, Any]) -> None:
    for name in HUB_SERVICES:
        env = environment(compose["services"][name])
        missing = [k for k in _required_production() if not env.get(k)]
        assert not missing, f"{name} runs hub code without {missing}: it would fall back to SQLite / a local lake"
        assert env.get(f"{_PREFIX}ENVIRONMENT") == "production", name


def test_only_hub_services_get_hub_credentials(compose: dict[str, Any]) -> None:
    """Least privilege: the scheduler, api-server and the simulators never see the hub's DB or lake keys."""
    holders = {
        name
        for name, service in compose["services"].items()
        if {f"{_PREFIX}DB_URL", f"{_PREFIX}S3_SECRET_KEY"} & set(environment(service))
    }
    assert holders == set(HUB_SERVICES)


@pytest.mark.parametrize("name", HUB_SERVICES)
def test_hub_service_settings_load_and_point_at_compose_services(
    name: str, rendered: dict[str, Any], clean_govhub_env: pytest.MonkeyPatch
) -> None:
    services = rendered["services"]
    settings = _settings_for(services[name], clean_govhub_env)

    db = make_url(settings.metadata_url)
    assert db.drivername == "postgresql+psycopg", db.drivername
    assert services[db.host]["image"].startswith("postgres:"), db.host
    assert db.password == environment(services[db.host])["GOVHUB_DB_PASSWORD"], "hub DB password != postgres init's"
    assert db.database == db.username == "govhub"

    options = settings.lake_storage_options
    assert options is not None, f"{name}: the lake is not on S3 ({settings.lake_root})"
    endpoint = urlsplit(options["AWS_ENDPOINT_URL"])
    assert services[endpoint.hostname]["image"].startswith("minio/minio:"), endpoint.hostname
    lake_init = environment(services["minio-init"])
    assert urlsplit(settings.lake_root).netloc == lake_init["LAKE_BUCKET"], "lake bucket != the bucket minio-init makes"
    assert (options["AWS_ACCESS_KEY_ID"], options["AWS_SECRET_ACCESS_KEY"]) == (
        lake_init["HUB_ACCESS_KEY"],
        lake_init["HUB_SECRET_KEY"],
    ), "the hub's S3 credentials differ from the MinIO user minio-init creates"


def test_worker_reads_every_source_from_its_system_not_the_embedded_simulators(
    rendered: dict[str, Any], clean_govhub_env: pytest.MonkeyPatch
) -> None:
    services = rendered["services"]
    worker = services["airflow-worker"]
    settings = _settings_for(worker, clean_govhub_env)
    registry = environment(services["registry-db"])
    credit = environment(services["credit-api"])
    mounts = {str(m).split(":")[1] for m in worker["volumes"]}
    for contract in load_all().values():
        config = settings.source_config(contract)
        system = contract.source.system
        for value in config.values():
            assert str(settings.sources_home) not in str(value), f"{system}: embedded default {value}"
        if "url" in config:
            url = make_url(config["url"])
            assert url.host == "registry-db" and url.drivername == "mysql+pymysql", f"{system}: {url!r}"
            assert (url.username, url.password) == (registry["MARIADB_USER"], registry["MARIADB_PASSWORD"]), system
        elif "base_url" in config:
            assert urlsplit(config["base_url"]).hostname == "credit-api", config["base_url"]
            assert config["token"] == credit["CREDIT_TOKEN"], "the hub's credit token != the one the API accepts"
        else:
            assert config["inbox"] in mounts, f"{system}: inbox {config['inbox']} is not a volume on the worker"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("GOVHUB_BATCH_SIZE", "abc", id="not-an-int"),
        pytest.param("GOVHUB_BATCH_SIZE", "10", id="below-minimum"),
        pytest.param("GOVHUB_DB_URL", "nonsense", id="not-a-url"),
        pytest.param("GOVHUB_LEGAL_ENTITY_URL", "registry-db/legal_entity", id="source-not-a-url"),
        pytest.param("GOVHUB_SEAL_ALGORITHM", "rsa", id="closed-choice"),
        pytest.param("GOVHUB_S3_ALLOW_HTTP", "perhaps", id="not-a-bool"),
        pytest.param("GOVHUB_ENVIRONMENT", "prod", id="environment"),
    ],
)
def test_malformed_setting_stops_at_start_naming_it(
    variable: str, value: str, clean_govhub_env: pytest.MonkeyPatch
) -> None:
    clean_govhub_env.setenv(variable, value)
    reset_settings()
    with pytest.raises(SettingsError, match=rf"^setting {variable} is invalid: ") as caught:
        get_settings()
    assert caught.value.variable == variable
    assert caught.value.received == value


def test_s3_lake_without_credentials_names_them(clean_govhub_env: pytest.MonkeyPatch) -> None:
    clean_govhub_env.setenv("GOVHUB_LAKE_URL", "s3://govhub-lake/lake")
    reset_settings()
    with pytest.raises(SettingsError, match="GOVHUB_S3_ACCESS_KEY/GOVHUB_S3_SECRET_KEY"):
        get_settings().lake_storage_options  # noqa: B018  (the property raises)
