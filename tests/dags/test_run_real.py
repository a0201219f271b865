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
    monkeypatch.setenv("GOVHUB_LEGAL_ENTITY_URL", sim.legal_entity_url)
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


def test_legal_entity_before_person_then_its_recheck_task_promotes(govhub_home: Path, airflow_home: Path) -> None:
    """All at once, legal_entity may run before person published: pending, then the DAG's recheck publishes."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.settings import Session
    from sqlalchemy import select

    from govhub.orchestration import run_dags
    from govhub.pipeline import run_ingest

    [early] = run_dags(["legal_entity"], airflow_home=airflow_home)
    assert early["accepted"] == 0 and early["pending"] > 0 and early["version"] is None
    run_ingest("person", recheck=False)  # person publishes; its Asset event triggers ingest_legal_entity
    [late] = run_dags(["legal_entity"], airflow_home=airflow_home)
    assert late["extracted"] == 0  # nothing new at the source
    with Session() as session:
        extras = session.scalars(
            select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_run_id == late["dag_run_id"], AssetModel.name == "govhub.curated.legal_entity")
        ).all()
    recheck = next(e for e in extras if e.get("kind") == "recheck")
    assert recheck["version"] is not None and recheck["accepted"] > 0
    assert recheck["extracted"] == recheck["accepted"] + recheck["rejected"] + recheck["pending"]
