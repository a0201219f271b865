"""OpenLineage lineage for govhub: events for every ingest run, publish and delivery, and a reader.

Outside Airflow (`govhub ingest`, `govhub delivery run`) the stages emit events with the
openlineage-python client (`emit_ingest`, `emit_deliveries`); under Airflow the OpenLineage provider
emits them, with govhub's datasets declared on the tasks (`with_lineage`). Both write to the same
transport, configured by `GOVHUB_LINEAGE_*` (a JSON-lines file under GOVHUB_HOME by default); the
monitor reads a resource's events with `read_lineage`. openlineage is imported only when an event is built.
"""

from govhub.lineage.airflow import TaskKind, airflow_lineage_env, task_lineage, with_lineage
from govhub.lineage.datasets import (
    NAMESPACE,
    curated_input,
    curated_name,
    curated_output,
    department_name,
    department_output,
    source_dataset,
    source_identity,
)
from govhub.lineage.emit import EventType, emit_deliveries, emit_ingest, ingest_run_uuid, lineage_client
from govhub.lineage.reader import event_matches, read_lineage

__all__ = [
    "NAMESPACE",
    "EventType",
    "TaskKind",
    "airflow_lineage_env",
    "curated_input",
    "curated_name",
    "curated_output",
    "department_name",
    "department_output",
    "emit_deliveries",
    "emit_ingest",
    "event_matches",
    "ingest_run_uuid",
    "lineage_client",
    "read_lineage",
    "source_dataset",
    "source_identity",
    "task_lineage",
    "with_lineage",
]
