"""The scheduled compaction of curated tables (数据湖合并), daily.

`lake_compact` MERGEs each curated table's pending changes into its base when they pass
`GOVHUB_LAKE_COMPACT_THRESHOLD` of the base's rows (the ingest that crosses it compacts too; this
catches a table whose compaction failed or was killed, and registers a compaction a killed process
committed). Each table is compacted under its resource's lock, so it waits for no ingest and no
ingest runs beside it: a table whose lock is held is skipped (`busy` in the task's result), not waited for.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")


@dag(
    dag_id="lake_compact",
    description="数据湖合并：待合并变更超过阈值的整理表并入基表",
    schedule="0 20 * * *",  # 04:00 Beijing time, after the quality suite
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["govhub", "lake"],
    default_args={"owner": "govhub", "retries": 1, "execution_timeout": timedelta(hours=6)},
    doc_md=__doc__,
)
def lake_compact() -> None:
    @task
    def compact_due_tables() -> dict[str, Any]:
        from govhub.compaction import compact_lake

        return {  # a table another worker holds is left to it (or to tomorrow): `busy` says who
            o.resource: {"busy": o.busy}
            if o.busy is not None
            else None
            if o.info is None
            else {"base_version": o.info.base_version, "through": o.info.dataset_version}
            for o in compact_lake()
        }

    compact_due_tables()


lake_compact()
