"""A hub with simulated sources in a temporary GOVHUB_HOME, the credit platform served on a free port.

The hub's metadata store is parametrized: "sqlite" (the embedded default under GOVHUB_HOME) and
"postgresql" (GOVHUB_DB_URL at a throwaway database per module, emptied per test; skips without a
server). test_crash.py stays on SQLite: each of its tests switches GOVHUB_HOME between a clean and
a crashed hub, which one database cannot follow; test_postgres_crash.py gives each its own database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from govhub.db import migrate
from govhub.settings import reset_settings
from simulators import CreditSimulator, SimulatorHome, build_all
from tests.hub_support import configure_hub_env
from tests.service_db import STORES, MetadataStore, metadata_store, store_params  # noqa: F401

_SQLITE_ONLY = {"test_crash"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that builds a hub runs on each metadata store (a module may narrow it: METADATA_STORES)."""
    if "metadata_store" not in metafunc.fixturenames:
        return
    stores = ("sqlite",) if metafunc.module.__name__ in _SQLITE_ONLY else STORES
    stores = getattr(metafunc.module, "METADATA_STORES", stores)
    metafunc.parametrize("metadata_store", store_params(stores), indirect=True, scope="module")


@dataclass
class Hub:
    home: Path
    sources: SimulatorHome
    credit: CreditSimulator


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metadata_store: MetadataStore) -> Iterator[Hub]:  # noqa: F811
    """A fresh hub over 1,500 simulated persons (2 % bad records) and their entities, credit, payments."""
    (tmp_path / "hub").mkdir()
    url = metadata_store.fresh_url(tmp_path / "hub")  # SQLite: the module's migrated file, where the hub keeps it
    if metadata_store.kind == "postgresql":
        monkeypatch.setenv("GOVHUB_DB_URL", url)
    sources = build_all(tmp_path / "sources", size=1_500, seed=11, bad_share=0.02)
    with CreditSimulator(sources.credit_db, token=sources.token, rate_limit=1_000) as credit:
        configure_hub_env(monkeypatch, tmp_path / "hub", sources, credit.base_url)
        migrate()
        yield Hub(home=tmp_path / "hub", sources=sources, credit=credit)
    reset_settings()
