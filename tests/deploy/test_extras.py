"""The deployment extras install what Airflow and the hub need on PostgreSQL and Celery, and it imports."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def _names(extra: str) -> set[str]:
    return {spec.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip() for spec in EXTRAS[extra]}


def test_postgres_extra_brings_the_sync_and_async_drivers() -> None:
    assert {"psycopg", "psycopg2-binary", "asyncpg"} <= _names("postgres")


def test_celery_extra_keeps_celery_below_the_release_that_breaks_the_provider() -> None:
    celery = next(spec for spec in EXTRAS["celery"] if spec.startswith("celery"))
    assert "<5.7" in celery, celery
    assert "apache-airflow-providers-celery" in _names("celery")


def test_dev_installs_the_deployment_extras() -> None:
    assert any(spec.startswith("govhub[") and "postgres" in spec and "celery" in spec for spec in EXTRAS["dev"])


def test_airflow_opens_postgresql_with_the_installed_drivers() -> None:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    url = "postgresql://airflow@db.invalid/airflow"
    for engine in (
        sa.create_engine(url.replace("postgresql", "postgresql+psycopg2")),
        sa.create_engine(url.replace("postgresql", "postgresql+psycopg")),
        create_async_engine(url.replace("postgresql", "postgresql+asyncpg")).sync_engine,
    ):
        assert engine.dialect.dbapi is not None or engine.dialect.loaded_dbapi is not None


def test_the_celery_executor_imports_with_the_installed_celery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    from airflow.providers.celery.executors import celery_executor, celery_executor_utils

    assert celery_executor.CeleryExecutor
    assert callable(celery_executor_utils.retry)  # the name celery 5.7 dropped
