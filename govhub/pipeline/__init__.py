"""The ingest pipeline: stage functions chained per resource, the same under Airflow, CLI and tests."""

from __future__ import annotations

from typing import Any

from govhub.pipeline.stages import advance, begin, extract, fail, publish, register, summary, validate

__all__ = ["advance", "begin", "extract", "fail", "publish", "register", "run_ingest", "summary", "validate"]


def run_ingest(resource: str, *, orchestrator: str = "cli") -> dict[str, Any]:
    """Run every stage of one resource's ingest in this process; on failure the run is marked failed.

    Returns the run summary (counts, version, seconds, top rejection reasons).
    """
    run_id = begin(resource, orchestrator=orchestrator)
    try:
        extract(run_id)
        validate(run_id)
        publish(run_id)
        register(run_id)
        return advance(run_id)
    except BaseException as e:
        fail(run_id, f"{type(e).__name__}: {e}")
        raise
