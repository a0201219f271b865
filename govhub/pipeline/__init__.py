"""The ingest pipeline: stage functions chained per resource, the same under Airflow, CLI and tests."""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

from govhub.pipeline.recheck import recheck as recheck_pending
from govhub.pipeline.recheck import recheck_dependents, reprocess
from govhub.pipeline.stages import advance, begin, extract, fail, publish, register, summary, validate
from govhub.pipeline.suite_check import check_version
from govhub.settings import get_settings
from schemas import dependency_order as ingest_order

log = logging.getLogger(__name__)

__all__ = [
    "advance",
    "begin",
    "check_version",
    "extract",
    "fail",
    "ingest_order",
    "publish",
    "recheck_dependents",
    "recheck_pending",
    "register",
    "reprocess",
    "run_ingest",
    "run_stages",
    "summary",
    "validate",
]


def run_ingest(resource: str, *, orchestrator: str = "cli", recheck: bool = True) -> dict[str, Any]:
    """Run every stage of one resource's ingest in this process; on failure the run is marked failed.

    Returns the run summary (counts, version, seconds, top rejection reasons). When the run published
    a version and `recheck` is on, the pending rows of the resources referencing this one are
    re-checked right after (their summaries under `rechecks`).
    """
    result = run_stages(resource, orchestrator=orchestrator)
    if recheck:
        own = recheck_pending(resource, orchestrator=orchestrator)  # rows an earlier run set aside, if now due
        rechecks = ([own] if own else []) + recheck_dependents(resource, orchestrator=orchestrator)
        if rechecks:
            result["rechecks"] = rechecks
    return result


def run_stages(
    resource: str, *, orchestrator: str = "cli", kind: str = "ingest", scope: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Begin a run of `kind` and run its stages in this process; on failure the run is marked failed."""
    run_id = begin(resource, orchestrator=orchestrator, kind=kind, scope=scope)
    try:
        extracted = extract(run_id)["extracted"]
        if extracted >= get_settings().gx_full_suite_min_rows:  # `register` will run the full GX suite
            _import_in_background("great_expectations")  # overlaps validate and publish
        validate(run_id)
        publish(run_id)
        register(run_id)
        return advance(run_id)
    except BaseException as e:
        fail(run_id, f"{type(e).__name__}: {e}")
        raise


def _import_in_background(module: str) -> None:
    """Start importing a slow module (Great Expectations: 10-30 s) in a daemon thread.

    The stage that needs it imports it as usual; Python's per-module import lock makes it wait for
    the background import if that is still running. Started after `extract`, whose imports (ADBC
    pulls in pandas) are then done, so the two threads do not import the same packages at once.
    """

    def load() -> None:
        try:
            importlib.import_module(module)
        except Exception:  # the stage's own import raises the real error
            log.debug("background import of %s failed", module, exc_info=True)

    threading.Thread(target=load, name=f"govhub-import-{module}", daemon=True).start()
