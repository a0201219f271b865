"""A tiny simulated hub in a temporary GOVHUB_HOME (the approach of tests/pipeline), and lineage helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from govhub.db import migrate
from govhub.settings import reset_settings
from simulators import CreditSimulator, SimulatorHome, build_all
from tests.hub_support import configure_hub_env


@dataclass
class Hub:
    home: Path
    sources: SimulatorHome
    credit: CreditSimulator

    @property
    def events_file(self) -> Path:
        return self.home / "lineage" / "events.jsonl"

    def events(self) -> list[dict[str, Any]]:
        """Every event in the file transport, oldest first."""
        if not self.events_file.exists():
            return []
        return [json.loads(line) for line in self.events_file.read_text().splitlines() if line.strip()]


def _configure(monkeypatch: pytest.MonkeyPatch, home: Path, sources: SimulatorHome, credit_url: str) -> None:
    for name in ("GOVHUB_LINEAGE_TRANSPORT", "GOVHUB_LINEAGE_URL", "OPENLINEAGE_URL", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    configure_hub_env(monkeypatch, home, sources, credit_url)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """A fresh hub over 300 simulated persons (2 % bad records) and their entities, credit, payments."""
    sources = build_all(tmp_path / "sources", size=300, seed=7, bad_share=0.02)
    with CreditSimulator(sources.credit_db, token=sources.token, rate_limit=1_000) as credit:
        _configure(monkeypatch, tmp_path / "hub", sources, credit.base_url)
        migrate()
        yield Hub(home=tmp_path / "hub", sources=sources, credit=credit)
    reset_settings()


class _FastSuite:
    """Stands in for the GX suite result: lineage tests do not need GX's 10-30 s import."""

    success = True

    def to_dict(self) -> dict[str, Any]:
        return {}


@pytest.fixture
def fast_hub(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Hub:
    """The hub with the `register` stage's GX suite stubbed (lineage does not depend on it)."""
    import govhub.pipeline
    import quality

    monkeypatch.setattr(quality, "run_suite", lambda *args, **kwargs: _FastSuite())
    monkeypatch.setattr(govhub.pipeline, "_import_in_background", lambda module: None)
    return hub


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated Airflow home (SQLite) for the session: migration takes ~10 s, so once."""
    from govhub.orchestration import migrate as migrate_airflow

    home = tmp_path_factory.mktemp("lineage") / "airflow"
    migrate_airflow(home)
    return home
