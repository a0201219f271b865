"""The serving-store DAGs: one per contract, scheduled on the curated Asset, a thin refresh task."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from schemas import load_all

CONTRACTS = load_all()


@pytest.mark.parametrize("resource", sorted(CONTRACTS))
def test_scheduled_on_the_curated_asset(dagbag: Any, resource: str) -> None:
    dag = dagbag.get_dag(f"serve_{resource}")
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert [asset.name for asset in dag.timetable.asset_condition.objects] == [f"govhub.curated.{resource}"]
    assert dag.task_ids == ["refresh_store"]


def test_dag_refreshes_its_resource(monkeypatch: pytest.MonkeyPatch, airflow_home: Path) -> None:
    from govhub.orchestration import _load_dags, migrate

    calls: list[str] = []
    fake = types.ModuleType("govhub.serving_runner")
    fake.refresh_serving = lambda resource: calls.append(resource) or {"resource": resource, "version": 2}
    monkeypatch.setitem(sys.modules, "govhub.serving_runner", fake)
    migrate(airflow_home)
    dag = _load_dags()["serve_person"]
    assert dag.test().state == "success"
    assert calls == ["person"]


def test_no_version_yet_is_nothing_to_do(monkeypatch: pytest.MonkeyPatch, airflow_home: Path, tmp_path: Path) -> None:
    """A fresh hub (nothing ingested): the real refresh logs one line and the DAG run succeeds, no retries."""
    from govhub.db import migrate as migrate_hub
    from govhub.orchestration import _load_dags, migrate
    from govhub.serving_runner import refresh_serving
    from govhub.settings import reset_settings

    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    reset_settings()
    migrate_hub()
    assert refresh_serving("person")["skipped"] == "no version yet"
    migrate(airflow_home)
    dag = _load_dags()["serve_person"]
    assert dag.test().state == "success"
    reset_settings()


def test_events_that_all_say_version_null_are_nothing_to_do() -> None:
    from assets import nothing_published

    def event(**extra: Any) -> types.SimpleNamespace:
        return types.SimpleNamespace(extra=extra)

    key = "govhub.curated.person"
    assert nothing_published({"triggering_asset_events": {key: [event(version=None), event(version=None)]}})
    assert not nothing_published({"triggering_asset_events": {key: [event(version=None), event(version=4)]}})
    assert not nothing_published({"triggering_asset_events": {key: [event(note="made by hand")]}})
    assert not nothing_published({"triggering_asset_events": {}})  # by hand or by the clock: do the work
    assert not nothing_published({})
