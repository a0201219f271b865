"""The ingest DAGs run end to end through Airflow (dag.test(), in-process) with a fake pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dag_fakes import FakePipeline

from govhub.orchestration import ingest_order, run_dags
from schemas import PipelineError

STAGES = ["begin", "extract", "validate", "publish", "register", "advance"]


def _asset_events(dag_run_id: str) -> list[tuple[str, dict[str, Any]]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.settings import Session
    from sqlalchemy import select

    with Session() as session:
        rows = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_run_id == dag_run_id)
        ).all()
    return [(name, extra) for name, extra in rows]


def test_ingest_order_puts_person_first() -> None:
    assert ingest_order(["payment", "person", "credit_record"]) == ["person", "credit_record", "payment"]
    assert ingest_order()[0] == "person"
    with pytest.raises(PipelineError, match=r"no such resource; known: \['credit_record'"):
        ingest_order(["persons"])


def test_dag_runs_stages_in_order_and_emits_asset_event(fake_pipeline: FakePipeline, airflow_home: Path) -> None:
    [summary] = run_dags(["legal_entity"], airflow_home=airflow_home)

    run_id = "legal_entity-000001-fake"
    assert fake_pipeline.calls == [("begin", "legal_entity", "airflow")] + [(s, run_id) for s in STAGES[1:]] + [
        ("recheck", "legal_entity", "airflow")  # legal_entity references person: its pending rows, if due
    ]
    assert summary["status"] == "succeeded"
    assert summary["run_id"] == run_id
    assert summary["version"] == 3
    assert summary["top_reasons"] == [["id_number", "gb11643", 1]]  # the whole advance() summary
    assert summary["airflow_seconds"] > 0
    events = _asset_events(summary["dag_run_id"])  # the recheck found nothing due: skipped, no second event
    assert [name for name, _ in events] == ["govhub.curated.legal_entity"]
    assert events[0][1] == {
        "resource": "legal_entity",
        "run_id": run_id,
        "kind": None,
        "status": "succeeded",
        "version": 3,
        "extracted": 5,
        "accepted": 4,
        "rejected": 1,
        "pending": None,
        "warned": 0,
        "seconds": 0.5,
    }


@pytest.mark.parametrize("stage", ["extract", "advance"])
def test_failed_stage_calls_fail_and_stops(fake_pipeline: FakePipeline, airflow_home: Path, stage: str) -> None:
    fake_pipeline.fail_in = stage
    [result] = run_dags(["payment"], airflow_home=airflow_home, on_failure="record")

    done = STAGES[: STAGES.index(stage) + 1]
    assert fake_pipeline.stages == [*done, "fail"]
    run_id, error = fake_pipeline.calls[-1][1:]
    assert run_id == "payment-000001-fake"
    assert error == f"{stage}: RuntimeError: simulated failure in {stage}"
    assert result["status"] == "failed"
    assert result["failed_tasks"] == [stage]
    assert result["run_id"] == run_id
    assert _asset_events(result["dag_run_id"]) == []


def test_failed_begin_has_no_run_to_fail(fake_pipeline: FakePipeline, airflow_home: Path) -> None:
    fake_pipeline.fail_in = "begin"
    with pytest.raises(PipelineError, match=r"payment run - failed in begin: Airflow DAG run .* failed"):
        run_dags(["payment"], airflow_home=airflow_home)
    assert fake_pipeline.stages == ["begin"]


def test_person_runs_first(fake_pipeline: FakePipeline, airflow_home: Path) -> None:
    summaries = run_dags(["payment", "person"], airflow_home=airflow_home)
    assert [s["resource"] for s in summaries] == ["person", "payment"]
    assert [c[1] for c in fake_pipeline.calls if c[0] == "begin"] == ["person", "payment"]
