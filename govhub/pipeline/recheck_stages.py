"""The parts of the stages that differ for pending rows and for recheck / reprocess runs.

`extract` of a recheck stages quarantined rows instead of reading the source; `validate` turns rows
failing only `references` into pending rows (and pending rows past their grace into rejections);
`publish` marks the rows a recheck took; `advance` logs what became of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from catalog import utcnow
from govhub.db import session_scope
from govhub.exchange_log import hub_log
from govhub.models import IngestRun
from govhub.pipeline.pending import (
    checked_against,
    due_rows,
    open_rows,
    resolve,
    select_candidates,
    stamp_pending,
)
from govhub.pipeline.resources import ResourceContext
from quality import expired_reason, rebuild_batch, split_pending
from schemas import StateError

__all__ = ["PendingAger", "log_pending", "resolve_taken", "stage_quarantined"]

_TAKEN = "taken"
_SUPERSEDED = "_superseded"


def stage_quarantined(ctx: ResourceContext, run: IngestRun) -> int:
    """Stage the quarantined rows a recheck or reprocess run takes; returns how many are re-validated.

    A recheck takes the open pending rows last checked against older referenced versions; a
    reprocess takes open pending and rejected rows, narrowed by its scope (`rule`, `run`).
    """
    scope = run.scope or {}
    with session_scope() as session:
        if run.kind == "recheck":
            rows = due_rows(ctx, session)
        elif run.kind == "reprocess":
            rows = open_rows(
                ctx, session, verdicts=("pending", "rejected"), rule=scope.get("rule"), run=scope.get("run")
            )
        else:
            raise StateError(f"run {run.run_id} has kind {run.kind!r}; expected recheck or reprocess")
    chosen = select_candidates(ctx, rows)
    staging = ctx.staging(run.run_id)
    marked = [
        t.append_column(_SUPERSEDED, pa.array([flag] * t.num_rows, pa.bool_()))
        for t, flag in ((chosen.taken, False), (chosen.superseded, True))
        if t.num_rows
    ]
    staging.area.remove(_TAKEN)
    staging.area.remove("extracted")
    if marked:
        taken = pa.concat_tables(marked, promote_options="permissive")
        staging.write_batches(_TAKEN, taken.to_batches())
    run.outcomes = {"superseded": chosen.superseded.num_rows}
    if not chosen.taken.num_rows:
        return 0
    return staging.write_batches("extracted", rebuild_batch(chosen.taken, ctx.contract).to_batches())


def _taken(staging: Any) -> pa.Table | None:
    if not staging.area.exists(_TAKEN):
        return None
    return staging.area.reader(_TAKEN).read_all()


class PendingAger:
    """Splits a verdict's rejected rows into still rejected, pending, and expired (grace used up)."""

    def __init__(self, ctx: ResourceContext, run: IngestRun, staging: Any, *, versions: dict[str, int | None]) -> None:
        self.ctx, self.run = ctx, run
        self.against = checked_against(versions)
        self.now = utcnow()
        self.expired_count = 0
        self.previous: dict[str, tuple[Any, int]] = {}
        taken = _taken(staging) if run.kind != "ingest" else None
        if taken is not None and "pending_since" in taken.column_names:
            for key, verdict, since, rechecks in zip(
                taken.column("row_key").to_pylist(),
                taken.column("verdict").to_pylist(),
                taken.column("pending_since").to_pylist(),
                taken.column("rechecks").to_pylist(),
                strict=True,
            ):
                if verdict == "pending" and since is not None:
                    self.previous[key] = (since, rechecks or 0)

    def split(self, rejected: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
        """(still rejected, pending with their pending columns, expired) of one batch's rejected rows."""
        still, waiting = split_pending(rejected)
        if not waiting.num_rows:
            return still, waiting, waiting
        since, rechecks = [], []
        bump = 1 if self.run.kind == "recheck" else 0
        for key in waiting.column("row_key").to_pylist():
            first, count = self.previous.get(key, (self.now, -bump))
            since.append(first)
            rechecks.append(count + bump)
        grace = self.ctx.contract.pending_grace
        over = pa.array([n >= grace for n in rechecks], pa.bool_())
        stamped = stamp_pending(waiting, since=self.now, rechecks=rechecks, versions=self.against)
        stamped = stamped.set_column(
            stamped.schema.get_field_index("pending_since"),
            "pending_since",
            pa.array(since, stamped.schema.field("pending_since").type),
        )
        expired = waiting.filter(over)
        self.expired_count += expired.num_rows
        if expired.num_rows:
            reason = expired_reason(grace, self.ctx.contract.referenced_resources)
            reasons = [[*r, reason] for r in expired.column("reasons").to_pylist()]
            index = expired.schema.get_field_index("reasons")
            expired = expired.set_column(index, "reasons", pa.array(reasons, expired.schema.field("reasons").type))
        return still, stamped.filter(pc.invert(over)), expired

    def outcomes(self, *, accepted: int) -> dict[str, int] | None:
        """What became of the rows a recheck or reprocess took (None for an ingest run)."""
        if self.run.kind == "ingest":
            return None
        return {
            **(self.run.outcomes or {}),
            "promoted": accepted,
            "expired": self.expired_count,
        }


def resolve_taken(
    ctx: ResourceContext,
    run: IngestRun,
    staging: Any,
    flagged: pa.RecordBatchReader | None,
    *,
    fence: Callable[[], None] | None = None,
) -> None:
    """Mark every row the run took with what became of it and write the run's slice, in one commit.

    `fence` is called after the quarantine is read and before it is written (see `resolve`).
    """
    taken = _taken(staging)
    if taken is None:
        return
    new_rows = flagged.read_all() if flagged is not None else None
    verdict_of: dict[str, str] = {}
    if new_rows is not None and new_rows.num_rows:
        for key, verdict, reasons in zip(
            new_rows.column("row_key").to_pylist(),
            new_rows.column("verdict").to_pylist(),
            new_rows.column("reasons").to_pylist(),
            strict=True,
        ):
            if verdict == "pending":
                verdict_of[key] = "still_pending"
            elif verdict == "rejected":
                expired = any(r["rule"] == "pending_expired" for r in reasons)
                verdict_of[key] = "expired" if expired else "rejected"
    resolutions = [
        "superseded" if superseded else verdict_of.get(key, "promoted")
        for key, superseded in zip(
            taken.column("row_key").to_pylist(), taken.column(_SUPERSEDED).to_pylist(), strict=True
        )
    ]
    run.outcomes = {**(run.outcomes or {}), **_tally(resolutions)}
    resolve(
        ctx,
        run_id=run.run_id,
        run_seq=run.seq,
        taken=taken.drop_columns(_SUPERSEDED),
        resolutions=resolutions,
        new_rows=new_rows,
        fence=fence,
    )


def _tally(resolutions: list[str]) -> dict[str, int]:
    counts = Counter(resolutions)
    return {k: counts.get(k, 0) for k in ("promoted", "still_pending", "expired", "rejected", "superseded")}


def log_pending(session: Session, run: IngestRun) -> None:
    """Exchange-log events of pending rows: how many an ingest set aside, what a recheck made of its rows."""
    common = {
        "run_id": run.run_id,
        "resource": run.resource,
        "source": "govhub",
        "target": f"quarantine/{run.resource}",
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }
    events = []
    if run.kind == "ingest":
        if run.pending:
            events.append(
                {
                    "type": "quarantine",
                    "rows": run.pending,
                    "details": {"verdict": "pending", "action": "ingest"},
                    **common,
                }
            )
    else:
        for outcome, rows in (run.outcomes or {}).items():
            events.append(
                {
                    "type": "quarantine",
                    "rows": rows,
                    "details": {"action": run.kind, "outcome": outcome, "scope": run.scope or {}},
                    **common,
                }
            )
    if events:
        hub_log(session).append_many(events)
