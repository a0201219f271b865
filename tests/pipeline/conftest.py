"""A hub with simulated sources in a temporary GOVHUB_HOME, the credit platform served on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from govhub.db import migrate
from govhub.settings import reset_settings
from simulators import CreditSimulator, SimulatorHome, build_all


@dataclass
class Hub:
    home: Path
    sources: SimulatorHome
    credit: CreditSimulator


def _configure(monkeypatch: pytest.MonkeyPatch, home: Path, sources: SimulatorHome, credit_url: str) -> None:
    monkeypatch.setenv("GOVHUB_HOME", str(home))
    monkeypatch.setenv("GOVHUB_POPULATION_URL", sources.population_url)
    monkeypatch.setenv("GOVHUB_LEGAL_ENTITY_URL", sources.legal_entity_url)
    monkeypatch.setenv("GOVHUB_CREDIT_BASE_URL", credit_url)
    monkeypatch.setenv("GOVHUB_CREDIT_TOKEN", sources.token)
    monkeypatch.setenv("GOVHUB_CREDIT_TIMEOUT", "5")
    monkeypatch.setenv("GOVHUB_NONTAX_INBOX", str(sources.inbox))
    reset_settings()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """A fresh hub over 1,500 simulated persons (2 % bad records) and their entities, credit, payments."""
    sources = build_all(tmp_path / "sources", size=1_500, seed=11, bad_share=0.02)
    with CreditSimulator(sources.credit_db, token=sources.token, rate_limit=1_000) as credit:
        _configure(monkeypatch, tmp_path / "hub", sources, credit.base_url)
        migrate()
        yield Hub(home=tmp_path / "hub", sources=sources, credit=credit)
    reset_settings()
