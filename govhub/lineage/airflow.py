"""OpenLineage under Airflow: the provider's configuration, and govhub's datasets on TaskFlow tasks.

The OpenLineage provider emits START/COMPLETE/FAIL for every task and DAG run. It learns a task's
inputs and outputs from the operator's `get_openlineage_facets_on_start/complete` methods (the
provider's documented hook for operators). A TaskFlow task is a generated operator, so `with_lineage`
attaches those two methods to the task's operator at parse time; on completion they read the task's
own return value (the stage's small summary in XCom) and name the source system, the curated version
and the subscribing departments. Airflow 3 cannot translate `govhub://` Assets to OpenLineage datasets
(no converter for the scheme), which is why inlets/outlets alone would name nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from govhub.lineage.datasets import NAMESPACE

__all__ = ["TaskKind", "airflow_lineage_env", "task_lineage", "with_lineage"]

log = logging.getLogger(__name__)

TaskKind = Literal["extract", "ingest", "deliver"]


def airflow_lineage_env() -> dict[str, str]:
    """`AIRFLOW__OPENLINEAGE__*` variables from govhub's settings: same transport, namespace `govhub`.

    Emission runs in a thread of the task process (`execute_in_thread`) rather than the provider's
    default fork, which is safer next to the in-process execution API that `dag.test()` uses. Creates
    the events file's folder: the provider's file transport does not, and drops events without it.
    """
    from govhub.settings import get_settings

    settings = get_settings()
    config = settings.lineage_transport_config
    if config is None:
        return {"AIRFLOW__OPENLINEAGE__DISABLED": "True"}
    settings.lineage_file.parent.mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(config),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": NAMESPACE,
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
    }


def with_lineage(task_output: Any, *, kind: TaskKind, resource: str) -> Any:
    """Declare a TaskFlow task's OpenLineage inputs and outputs; returns `task_output` for chaining.

    `kind`: "extract" (reads the source system), "ingest" (the `advance` task: source system ->
    curated version), "deliver" (curated version -> each department delivered to).
    """
    operator = task_output.operator

    def on_start() -> Any:
        return task_lineage(kind, resource, None)

    def on_complete(task_instance: Any) -> Any:
        value = task_instance.xcom_pull(task_ids=task_instance.task_id)
        return task_lineage(kind, resource, value)

    operator.get_openlineage_facets_on_start = on_start
    operator.get_openlineage_facets_on_complete = on_complete
    return task_output


def task_lineage(kind: TaskKind, resource: str, value: Any) -> Any:
    """The provider's `OperatorLineage` of a task from its return value (None before it has one)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    from govhub.lineage.datasets import curated_input, curated_output, department_output, source_dataset
    from govhub.lineage.facets import PRODUCER, GovhubRunFacet
    from schemas import load_contract

    contract = load_contract(resource)
    if kind == "extract":
        rows = value.get("extracted") if isinstance(value, Mapping) else None
        return OperatorLineage(inputs=[source_dataset(contract, rows=rows)])
    if kind == "ingest":
        summary = value if isinstance(value, Mapping) else None
        run_facets = {}
        if summary:
            run_facets["govhub_run"] = GovhubRunFacet(
                resource=resource, run_id=summary.get("run_id"), orchestrator="airflow", producer=PRODUCER
            )
        rows = summary.get("extracted") if summary else None
        return OperatorLineage(
            inputs=[source_dataset(contract, rows=rows)],
            outputs=[curated_output(contract, summary)],
            run_facets=run_facets,
        )
    results: Sequence[Mapping[str, Any]] = value if isinstance(value, list) else []
    versions = sorted({r["to_version"] for r in results if r.get("to_version") is not None})
    return OperatorLineage(
        inputs=[curated_input(resource, versions[-1] if versions else None)],
        outputs=[department_output({**r, "resource": resource}) for r in results],
    )
