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
