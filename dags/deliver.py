"""One delivery DAG per data contract, scheduled on the resource's curated Asset (data-aware).

`deliver_<resource>` runs after each ingest that emitted `CURATED[resource]`; its one task calls
`govhub.delivery_runner.run_deliveries`, which sends every granted subscription the changes since
the version it last received. The triggering event's `extra.version` is logged; delivery always goes
up to the table's current version (a newer version includes the older one's changes). Events that all
say `version: null`, or a resource with no version yet, are nothing to do (success, one log line). A run in which
any delivery failed fails the task, so Airflow retries it; deliveries already done are not repeated.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, dag, task
from assets import CURATED, nothing_published

from govhub.lineage import with_lineage
from schemas import load_all

log = logging.getLogger(__name__)

START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")


def build_delivery_dag(resource: str, title: str) -> DAG:
    """The delivery DAG of one resource."""

    @dag(
        dag_id=f"deliver_{resource}",
        description=f"{title}：向已授权订阅部门交付变更",
        schedule=[CURATED[resource]],
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=2),
        tags=["govhub", "delivery"],
        default_args={"owner": "govhub", "retries": 3, "retry_delay": timedelta(minutes=5)},
        doc_md=__doc__,
    )
    def deliver() -> None:
        @task
        def deliver_changes(**context: Any) -> list[dict]:
            from govhub.delivery_runner import run_deliveries

            events = context.get("triggering_asset_events") or {}
            versions = [e.extra.get("version") for evs in events.values() for e in evs if e.extra]
            if nothing_published(context):  # the ingest found nothing new: no subscriber is behind
                log.info("deliver %s: the triggering run published no version; nothing to do", resource)
                return []
            log.info("deliver %s after asset events with versions %s", resource, versions)
            results = run_deliveries(resource, orchestrator="airflow")
            failed = [r for r in results if r["status"] == "failed"]
            if failed:
                raise RuntimeError(
                    f"{len(failed)} of {len(results)} deliveries of {resource} failed: "
                    + "; ".join(f"#{r['subscription_id']} {r['department_code']}: {r['error']}" for r in failed)
                )
            return results

        with_lineage(deliver_changes(), kind="deliver", resource=resource)  # OpenLineage: curated -> departments

    return deliver()


for _contract in load_all().values():
    build_delivery_dag(_contract.resource, _contract.title)
