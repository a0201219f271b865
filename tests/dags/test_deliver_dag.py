"""The delivery DAGs: one per contract, scheduled on the curated Asset, a thin task that runs deliveries."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from schemas import load_all

CONTRACTS = load_all()


def test_one_delivery_dag_per_contract(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert sorted(d for d in dagbag.dag_ids if d.startswith("deliver_")) == sorted(f"deliver_{r}" for r in CONTRACTS)


@pytest.mark.parametrize("resource", sorted(CONTRACTS))
def test_scheduled_on_the_curated_asset(dagbag: Any, resource: str) -> None:
    dag = dagbag.get_dag(f"deliver_{resource}")
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"  # data-aware: runs on asset events
    names = [asset.name for asset in dag.timetable.asset_condition.objects]
    assert names == [f"govhub.curated.{resource}"]
    assert dag.task_ids == ["deliver_changes"]
    assert dag.catchup is False and set(dag.tags) == {"govhub", "delivery"}


def _runner(monkeypatch: pytest.MonkeyPatch, results: list[dict]) -> list[str]:
    calls: list[str] = []
    fake = types.ModuleType("govhub.delivery_runner")

    def run_deliveries(resource: str, **_: Any) -> list[dict]:
        calls.append(resource)
        return results

    fake.run_deliveries = run_deliveries
    monkeypatch.setitem(sys.modules, "govhub.delivery_runner", fake)
    return calls


def _run(airflow_home: Path, dag_id: str) -> Any:
    from govhub.orchestration import _load_dags, migrate

    migrate(airflow_home)
    dag = _load_dags()[dag_id]
    for t in dag.tasks:
        t.retries = 0
    return dag.test()


def test_dag_runs_the_deliveries_of_its_resource(monkeypatch: pytest.MonkeyPatch, airflow_home: Path) -> None:
    done = {"subscription_id": 1, "department_code": "D1", "status": "done", "error": None, "rows": 3}
    calls = _runner(monkeypatch, [done])
    run = _run(airflow_home, "deliver_payment")
    assert run.state == "success"
    assert calls == ["payment"]


def test_a_failed_delivery_fails_the_task_for_a_retry(monkeypatch: pytest.MonkeyPatch, airflow_home: Path) -> None:
    failed = {"subscription_id": 2, "department_code": "D2", "status": "failed", "error": "cannot reach", "rows": 0}
    calls = _runner(monkeypatch, [failed])
    run = _run(airflow_home, "deliver_person")
    assert run.state == "failed"
    assert calls == ["person"]


def test_no_version_yet_is_nothing_to_do(monkeypatch: pytest.MonkeyPatch, airflow_home: Path, tmp_path: Path) -> None:
    """A fresh hub: the real deliveries find no version, the DAG run succeeds."""
    from govhub.db import migrate as migrate_hub
    from govhub.delivery_runner import run_deliveries
    from govhub.settings import reset_settings

    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    reset_settings()
    migrate_hub()
    assert run_deliveries("person") == []
    assert _run(airflow_home, "deliver_person").state == "success"
    reset_settings()
