"""One serving-store refresh DAG per verified resource, scheduled on the resource's curated Asset.

`serve_<resource>` rebuilds the keyed store the verification API answers from (exchange/verify) as
soon as a new version is published, so approval systems are answered from the latest version and
never see a half-updated store (the new store is swapped in atomically). An event with `version: null`
or a resource with no version yet is nothing to do: the task succeeds with one log line.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, dag, task
from assets import CURATED, nothing_published

from schemas import load_all

log = logging.getLogger(__name__)

START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")


def build_serving_dag(resource: str, title: str) -> DAG:
    """The serving-store refresh DAG of one resource."""

    @dag(
        dag_id=f"serve_{resource}",
        description=f"{title}：刷新核验服务库",
        schedule=[CURATED[resource]],
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["govhub", "verification"],
        default_args={"owner": "govhub", "retries": 2, "retry_delay": timedelta(minutes=2)},
        doc_md=__doc__,
    )
    def serve() -> None:
        @task
        def refresh_store(**context: Any) -> dict[str, Any]:
            from govhub.serving_runner import refresh_serving

            if nothing_published(context):  # the ingest found nothing new: the store is current
                log.info("serve %s: the triggering run published no version; nothing to do", resource)
                return {"resource": resource, "version": None, "skipped": "no new version"}
            return refresh_serving(resource)

        refresh_store()

    return serve()


for _contract in load_all().values():
    globals()[f"serve_{_contract.resource}"] = build_serving_dag(_contract.resource, _contract.title)
