"""One ingest DAG per data contract: begin -> extract -> validate -> publish -> register -> advance.

The DAGs are generated in a loop from `schemas.load_all()`, so a new contract gets a DAG with no new
code. Tasks are thin: each calls one `govhub.pipeline` stage with the pipeline's run id; data stays in
the lake and XCom carries only the run id and small count dicts. `advance` emits the curated Asset
event with the version and counts in its `extra`.

Order comes from the contracts: a DAG whose contract `references` other resources is also triggered
by their curated Assets (asset-or-time schedule), and ends with `recheck`, which re-validates its
pending rows (those that waited for a referenced key) once a referenced resource published a new
version. Unpaused all at once, the DAGs converge to the result of ingesting in dependency order.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Metadata, chain, dag, task
from assets import CURATED

from govhub.lineage import with_lineage
from schemas import Contract, load_all

log = logging.getLogger(__name__)

START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")

# What an asset event carries: the version and counts; the full summary stays in XCom and the run record.
EVENT_KEYS = (
    "resource",
    "run_id",
    "kind",
    "status",
    "version",
    "extracted",
    "accepted",
    "rejected",
    "pending",
    "warned",
    "seconds",
)

# Contract update cycle (GB/T 21063 更新周期) -> Airflow schedule. 其他 (no fixed cycle): manual runs only.
SCHEDULES: dict[str, str | None] = {
    "实时": "*/15 * * * *",
    "日": "@daily",
    "周": "@weekly",
    "月": "@monthly",
    "季": "@quarterly",
    "半年": "0 0 1 1,7 *",
    "年": "@yearly",
    "其他": None,
}

# Retries by source kind: an HTTP API has outages and rate limits worth waiting out with backoff; a
# database is either up or needs a human soon; a missing settlement file rarely appears within minutes.
RETRIES: dict[str, dict[str, Any]] = {
    "http": {
        "retries": 5,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
    },
    "sql": {"retries": 3, "retry_delay": timedelta(minutes=5)},
    "filedrop": {"retries": 1, "retry_delay": timedelta(minutes=15)},
}


def fail_run(context: dict[str, Any]) -> None:
    """Task failure callback (after the last retry): mark the govhub run failed and release its lock."""
    from govhub.pipeline import fail

    ti = context["ti"]
    run = ti.xcom_pull(task_ids="begin")
    if run is None:  # begin itself failed: there is no run to mark
        log.warning("task %s failed before a govhub run began; nothing to mark failed", ti.task_id)
        return
    exception = context.get("exception")
    error = f"{ti.task_id}: {type(exception).__name__}: {exception}" if exception else f"{ti.task_id} failed"
    fail(run, error)


def schedule_for(contract: Contract) -> Any:
    """The update cycle's cron, or'ed with the curated Assets of the resources the contract references.

    A dependent resource then also runs right after each of them published, so its pending rows are
    re-checked and rows it reads later meet the newest referenced keys.
    """
    cron = SCHEDULES[contract.update_cycle]
    upstream = [CURATED[name] for name in contract.referenced_resources]
    if not upstream:
        return cron
    assets = AssetAny(*upstream)
    if cron is None:
        return assets
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(cron, timezone="UTC"), assets=assets)


def build_ingest_dag(contract: Contract) -> DAG:
    """The ingest DAG of one resource, configured from its contract."""
    resource = contract.resource
    curated = CURATED[resource]

    @dag(
        dag_id=f"ingest_{resource}",
        description=f"{contract.title}：抽取、校验、入湖、登记（{contract.update_cycle}更新）",
        schedule=schedule_for(contract),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=2),
        tags=["govhub", "ingest", contract.source.system],
        default_args={"owner": "govhub", "on_failure_callback": fail_run, **RETRIES[contract.source.kind]},
        doc_md=__doc__,
    )
    def ingest() -> None:
        # Task parameters are named `run`: `run_id` is a reserved Airflow context key.
        @task
        def begin() -> str:
            from govhub.pipeline import begin as begin_stage

            return begin_stage(resource, orchestrator="airflow")

        @task
        def extract(run: str) -> dict:
            from govhub.pipeline import extract as extract_stage

            return extract_stage(run)

        @task
        def validate(run: str) -> dict:
            from govhub.pipeline import validate as validate_stage

            return validate_stage(run)

        @task
        def publish(run: str) -> dict:
            from govhub.pipeline import publish as publish_stage

            return publish_stage(run)

        @task
        def register(run: str) -> dict:
            from govhub.pipeline import register as register_stage

            return register_stage(run)

        @task(outlets=[curated])
        def advance(run: str):
            from govhub.pipeline import advance as advance_stage

            summary = advance_stage(run)
            yield Metadata(curated, extra={key: summary.get(key) for key in EVENT_KEYS})
            return summary

        @task(outlets=[curated])
        def recheck():
            from airflow.sdk.exceptions import AirflowSkipException

            from govhub.pipeline import recheck_pending

            summary = recheck_pending(resource, orchestrator="airflow")
            if summary is None:  # skipped: no Asset event, so nothing downstream runs for nothing
                raise AirflowSkipException(f"recheck {resource}: no pending row is due")
            yield Metadata(curated, extra={key: summary.get(key) for key in EVENT_KEYS})
            return summary

        run = begin()
        steps = [
            with_lineage(extract(run), kind="extract", resource=resource),  # OpenLineage: source system
            validate(run),
            publish(run),
            register(run),
            with_lineage(advance(run), kind="ingest", resource=resource),  # source -> curated version
        ]
        if contract.referenced_resources:  # pending rows wait for these resources' keys
            steps.append(recheck())
        chain(*steps)

    return ingest()


for _contract in load_all().values():
    build_ingest_dag(_contract)
