"""ingest_person through Airflow in-process on a tiny simulated population registry (the real pipeline)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def govhub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh GOVHUB_HOME with migrated hub metadata and simulated sources."""
    simulators = pytest.importorskip("simulators")
    if not hasattr(simulators, "build_all"):
        pytest.skip("simulators.build_all is not available yet; the real-pipeline DAG run needs it")
    from govhub.db import migrate as migrate_hub
    from govhub.settings import reset_settings

    home = tmp_path / "home"
    monkeypatch.setenv("GOVHUB_HOME", str(home))
    monkeypatch.setenv("GOVHUB_ENVIRONMENT", "test")
    sim = simulators.build_all(home / "sources", size=200, seed=7)
    monkeypatch.setenv("GOVHUB_POPULATION_URL", sim.population_url)
    reset_settings()
    migrate_hub()
    yield home
    reset_settings()


def test_ingest_person_through_airflow(govhub_home: Path, airflow_home: Path) -> None:
    from govhub.orchestration import run_dags

    [summary] = run_dags(["person"], airflow_home=airflow_home)
    assert summary["resource"] == "person"
    assert summary["status"] == "succeeded"
    assert summary["extracted"] > 0
    assert summary["accepted"] + summary["rejected"] == summary["extracted"]
    assert summary["version"] is not None
    assert summary["run_id"].startswith("person-")
