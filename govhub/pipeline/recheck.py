"""Re-validate quarantined rows: pending rows after a referenced resource publishes, or what an admin picks.

A recheck or reprocess is a run like an ingest (same lock, sequence, commit path and crash recovery)
whose `extract` reads the quarantine instead of the source. Nothing is begun when no row is due.
"""

from __future__ import annotations

import logging
from typing import Any

from govhub.db import session_scope
from govhub.pipeline.pending import due_rows, open_rows
from govhub.pipeline.resources import open_resource
from schemas import dependents

__all__ = ["due_count", "recheck", "recheck_dependents", "reprocess"]

log = logging.getLogger(__name__)


def due_count(resource: str) -> int:
    """Pending rows of `resource` last checked against older versions of the resources it references."""
    ctx = open_resource(resource)
    if not ctx.contract.referenced_resources:
        return 0
    with session_scope() as session:
        return int(due_rows(ctx, session).num_rows)


def recheck(resource: str, *, orchestrator: str = "cli") -> dict[str, Any] | None:
    """Re-validate the pending rows due for it and publish those that pass; None when none is due."""
    from govhub.pipeline import run_stages

    due = due_count(resource)
    if not due:
        log.info("recheck %s: no pending row is due", resource)
        return None
    log.info("recheck %s: %s pending rows are due", resource, due)
    return run_stages(resource, orchestrator=orchestrator, kind="recheck")


def reprocess(
    resource: str, *, rule: str | None = None, run: str | None = None, orchestrator: str = "cli"
) -> dict[str, Any] | None:
    """Re-validate open quarantined rows (pending and rejected) against today's contract and curated tables.

    `rule` keeps rows with a reason of that rule, `run` the rows a given run quarantined. Rows that
    pass are published through the same commit path as an ingest; None when no row matches.
    """
    from govhub.pipeline import run_stages

    ctx = open_resource(resource)
    with session_scope() as session:
        matching = open_rows(ctx, session, verdicts=("pending", "rejected"), rule=rule, run=run).num_rows
    if not matching:
        log.info("reprocess %s: no open quarantined row matches rule=%s run=%s", resource, rule, run)
        return None
    scope = {k: v for k, v in (("rule", rule), ("run", run)) if v is not None}
    return run_stages(resource, orchestrator=orchestrator, kind="reprocess", scope=scope)


def recheck_dependents(resource: str, *, orchestrator: str = "cli") -> list[dict[str, Any]]:
    """After `resource` published: recheck every resource referencing it, and theirs when they publish."""
    results: list[dict[str, Any]] = []
    queue = list(dependents(resource))
    while queue:
        name = queue.pop(0)
        result = recheck(name, orchestrator=orchestrator)
        if result is None:
            continue
        results.append(result)
        if result.get("version") is not None:
            queue.extend(d for d in dependents(name) if d not in queue)
    return results
