"""Fixtures of the exchange tests: the hub's SM2 signer, a fresh SQLite metadata store with the log's tables,
and a hub home over the module's metadata store (SQLite or PostgreSQL, `tests.service_db`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from log_support import sqlite_engine

from exchange.crypto import Signer, load_or_create_signer
from govhub.settings import reset_settings
from tests.service_db import MetadataStore, metadata_store  # noqa: F401


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """An SM2 signer with a key made once per test module."""
    return load_or_create_signer(tmp_path_factory.mktemp("keys"), algorithm="sm2")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A file SQLite store (WAL, as the hub sets it up) with the exchange-log tables, disposed after the test."""
    engine = sqlite_engine(tmp_path / "hub.db")
    yield engine
    engine.dispose()


@pytest.fixture
def store_url(metadata_store: MetadataStore, tmp_path: Path) -> str:  # noqa: F811
    """An empty migrated store of the module's kind (a copied SQLite file, or the PostgreSQL one emptied)."""
    return metadata_store.fresh_url(tmp_path)


@pytest.fixture
def hub_home(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """GOVHUB_HOME in tmp_path (its lake is where the test commits) over `store_url`, lineage off."""
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("GOVHUB_DB_URL", store_url)
    monkeypatch.setenv("GOVHUB_LINEAGE_TRANSPORT", "none")
    reset_settings()
    yield tmp_path / "hub"
    reset_settings()
