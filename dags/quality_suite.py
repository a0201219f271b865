"""The scheduled full Great Expectations check of every curated dataset (数据质量全量检查), daily.

Each ingest run checks its increment with the contract's dataset-level expectations (and with the
full GX suite when the increment is large); this DAG runs the full GX suite once on the current
version of each resource, on a deterministic sample of GOVHUB_GX_MAX_ROWS rows, and stores the
result per version (`govhub.pipeline.check_version`). A version already checked is skipped, so a
day without new versions costs nothing. A failing suite does not fail the task: it is a finding
for the data admins, shown with the version, not an outage.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

from schemas import load_all

START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")


@dag(
    dag_id="quality_suite",
    description="数据质量全量检查：按数据契约对各资源当前版本运行 Great Expectations 全量套件",
    schedule="0 19 * * *",  # 03:00 Beijing time, after the daily ingests and the log check
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["govhub", "quality"],
    default_args={"owner": "govhub", "retries": 1, "retry_delay": timedelta(minutes=10)},
    doc_md=__doc__,
)
def quality_suite() -> None:
    @task
    def check(resource: str) -> dict[str, Any]:
        from govhub.pipeline import check_version

        return check_version(resource)

    check.expand(resource=sorted(load_all()))


quality_suite()
