"""Fixtures of the exchange tests: the hub's SM2 signer and a fresh SQLite metadata store with the log's tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from log_support import sqlite_engine

from exchange.crypto import Signer, load_or_create_signer


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
