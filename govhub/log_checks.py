"""The scheduled check of the exchange log: a full walk (archives and live), then unsigned boundaries signed
and (PostgreSQL) the coming months' partitions made.

`run_log_check()` is what the `exchange_log_check` DAG runs daily; the result is recorded
(`exchange_log_check` table), shown on the monitor's alerts and header, and a broken chain raises so
the Airflow task fails (and Airflow's failure notification fires).
"""

from __future__ import annotations

import time
from typing import Any

from exchange.log import ChainBrokenError, catch_up_checkpoints, check_full, format_report

__all__ = ["run_log_check"]


def run_log_check(*, archives: bool = True) -> dict[str, Any]:
    """Full walk, then checkpoint catch-up; raises ChainBrokenError naming the first bad event."""
    from exchange.log.partitions import ensure_partitions
    from govhub.db import get_engine, migrate
    from govhub.delivery_runner import open_lake
    from govhub.exchange_log import hub_log

    migrate()
    started = time.perf_counter()
    report = check_full(hub_log(), archives=open_lake() if archives else None)
    seconds = time.perf_counter() - started
    if not report.ok:
        raise ChainBrokenError(format_report(report), seq=report.first_bad_seq, event_id=report.first_bad_event_id)
    _, signed = catch_up_checkpoints(hub_log())
    with get_engine().begin() as conn:  # PostgreSQL: the coming months' partitions, made ahead
        partitions = ensure_partitions(conn)
    return {
        "ok": True,
        "events": report.events_checked,
        "archives": report.archives_checked,
        "seconds": round(seconds, 3),
        "events_per_second": round(report.events_checked / seconds) if seconds > 0 else None,
        "unsigned_tail": report.unsigned_tail,
        "checkpoints_signed": signed,
        "partitions_made": partitions,
    }
