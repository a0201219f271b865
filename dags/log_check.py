"""The scheduled full walk of the exchange log (交换日志全量校验), daily.

`exchange_log_check` walks every event (archive files and live table as one chain) and every signed
checkpoint, records the result (the monitor's alerts and page header show a failed walk until a later
one passes), then signs the checkpoint boundaries that appenders without the key left unsigned. A
broken chain fails the task, so Airflow's failure notification alerts the operators.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")


@dag(
    dag_id="exchange_log_check",
    description="交换日志全量校验：哈希链、签名检查点、归档文件",
    schedule="30 18 * * *",  # 02:30 Beijing time
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["govhub", "exchange-log"],
    default_args={"owner": "govhub", "retries": 0, "execution_timeout": timedelta(hours=6)},
    doc_md=__doc__,
)
def exchange_log_check() -> None:
    @task
    def full_walk() -> dict[str, Any]:
        from govhub.log_checks import run_log_check

        return run_log_check()

    full_walk()


exchange_log_check()
