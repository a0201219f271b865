"""Emit govhub's OpenLineage run events with the openlineage-python client (runs outside Airflow).

Under Airflow the OpenLineage provider emits the task events instead (see `govhub.lineage.airflow`), so
these functions do nothing for runs whose orchestrator is "airflow". Lineage is observability: an event
that cannot be written is logged as a warning and never fails the ingest or the delivery it describes.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from govhub.lineage.datasets import NAMESPACE, curated_input, curated_output, department_output, source_dataset
from govhub.settings import get_settings
from schemas import load_contract

__all__ = ["EventType", "emit_deliveries", "emit_ingest", "ingest_run_uuid", "lineage_client"]

log = logging.getLogger(__name__)

EventType = Literal["START", "COMPLETE", "FAIL"]

# uuid5 namespace for govhub run ids: START (in `begin`) and COMPLETE/FAIL (later, maybe in another
# process) of one ingest run must carry the same OpenLineage runId.
_RUN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:govhub:ingest-run")


def ingest_run_uuid(run_id: str) -> str:
    """The OpenLineage runId of a govhub ingest run (deterministic, so every event of the run agrees)."""
    return str(uuid.uuid5(_RUN_NAMESPACE, run_id))


def lineage_client() -> Any | None:
    """The OpenLineage client for the configured transport (`GOVHUB_LINEAGE_*`); None when lineage is off."""
    config = get_settings().lineage_transport_config
    if config is None:
        return None
    return _client(json.dumps(config, sort_keys=True))


def _lineage_on() -> bool:
    """Whether a transport is configured (`GOVHUB_LINEAGE_TRANSPORT` other than `none`)."""
    return get_settings().lineage_transport_config is not None


@lru_cache(maxsize=4)
def _client(config_json: str) -> Any:
    from openlineage.client import OpenLineageClient

    config = json.loads(config_json)
    return OpenLineageClient(config={"transport": config})


def emit_ingest(
    event_type: EventType,
    *,
    resource: str,
    run_id: str,
    orchestrator: str = "cli",
    summary: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Emit the START, COMPLETE or FAIL event of an ingest run (job `govhub`/`ingest_<resource>`).

    Input: the source system's table, endpoint or inbox. Output: `govhub://curated/<resource>`, with
    the committed version and row counts (`govhub_version`, `version`, `outputStatistics`) on
    COMPLETE (pass the run's `summary`), and an `errorMessage` run facet on FAIL.
    """
    if orchestrator == "airflow":  # the Airflow provider reports these runs
        return
    try:
        if not _lineage_on():  # lineage off: build nothing, import no openlineage module
            return
        contract = load_contract(resource)
        rows = summary.get("extracted") if summary else None
        _emit(
            event_type,
            job=f"ingest_{resource}",
            run_uuid=ingest_run_uuid(run_id),
            run_facets=_run_facets(resource, run_id, orchestrator, error),
            inputs=[source_dataset(contract, rows=rows)],
            outputs=[curated_output(contract, summary)],
        )
    except Exception as e:  # lineage must never break the run it describes
        log.warning("lineage: %s event of ingest run %s not emitted: %s", event_type, run_id, e, exc_info=True)


def emit_deliveries(resource: str, results: Sequence[Mapping[str, Any]], *, orchestrator: str = "cli") -> None:
    """Emit START and COMPLETE (or FAIL) for each delivery (job `govhub`/`deliver_<resource>`).

    Input: `govhub://curated/<resource>` at the delivered version; output:
    `govhub://department/<code>/<resource>` with the `govhub_delivery` facet and the rows sent.
    `results` are `DeliveryResult.as_dict()` dicts, as `run_deliveries` returns them.
    """
    if orchestrator == "airflow":
        return
    try:
        if not _lineage_on():
            return
    except Exception as e:  # a transport misconfigured: logged, never fails the deliveries
        log.warning("lineage: deliveries of %s not emitted: %s", resource, e, exc_info=True)
        return
    for result in results:
        try:
            _emit_delivery(resource, result)
        except Exception as e:  # lineage must never break the delivery it describes
            log.warning(
                "lineage: delivery of %s to subscription %s not emitted: %s",
                resource,
                result.get("subscription_id"),
                e,
                exc_info=True,
            )


def _emit_delivery(resource: str, result: Mapping[str, Any]) -> None:
    from openlineage.client.uuid import generate_new_uuid

    run_uuid = str(generate_new_uuid())
    finished = datetime.now(UTC)
    started = finished.timestamp() - float(result.get("seconds") or 0.0)
    failed = result.get("status") == "failed"
    common = {
        "job": f"deliver_{resource}",
        "run_uuid": run_uuid,
        "run_facets": _run_facets(resource, None, "cli", result.get("error") if failed else None),
        "inputs": [curated_input(resource, result.get("to_version"))],
        "outputs": [department_output({**result, "resource": resource})],
    }
    _emit("START", event_time=datetime.fromtimestamp(started, UTC), **common)
    _emit("FAIL" if failed else "COMPLETE", event_time=finished, **common)


def _run_facets(resource: str, run_id: str | None, orchestrator: str, error: str | None) -> dict[str, Any]:
    from openlineage.client.facet_v2 import error_message_run

    from govhub.lineage.facets import PRODUCER, GovhubRunFacet

    facets: dict[str, Any] = {
        "govhub_run": GovhubRunFacet(resource=resource, run_id=run_id, orchestrator=orchestrator, producer=PRODUCER)
    }
    if error:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error[:4000], programmingLanguage="python", producer=PRODUCER
        )
    return facets


def _emit(
    event_type: EventType,
    *,
    job: str,
    run_uuid: str,
    run_facets: dict[str, Any],
    inputs: list[Any],
    outputs: list[Any],
    event_time: datetime | None = None,
) -> None:
    """Build one RunEvent (the client's classes check it against the spec's shapes) and send it."""
    client = lineage_client()
    if client is None:
        return
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import job_type_job

    from govhub.lineage.facets import PRODUCER

    settings = get_settings()
    settings.lineage_file.parent.mkdir(parents=True, exist_ok=True)
    job_facets = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="GOVHUB", jobType="JOB", producer=PRODUCER
        )
    }
    event = RunEvent(
        eventType=RunState[event_type],
        eventTime=(event_time or datetime.now(UTC)).isoformat(),
        run=Run(runId=run_uuid, facets=run_facets),
        job=Job(namespace=NAMESPACE, name=job, facets=job_facets),
        producer=PRODUCER,
        inputs=inputs,
        outputs=outputs,
    )
    client.emit(event)
    log.debug("lineage: %s %s run %s", event_type, job, run_uuid)
