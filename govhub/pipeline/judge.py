"""The row verdicts of a run: batches in, accepted / rejected / pending / warned outputs staged, counts reconciled.

`validate` judges the batches `extract` staged; a source ingest judges them as the source yields
them, inside `extract`, so a full load reads each batch once and never stages (then re-reads) the
raw extraction: the source read of the next batch overlaps the checks of the previous ones, and
the IPC round trip of every row is gone (bench/README.md, "Full load against raw and dlt").
Both paths run the same checks and write the same outputs, counts and quality report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from govhub.db import session_scope
from govhub.models import IngestRun, QualityReport
from govhub.pipeline.parallel import ordered_map
from govhub.pipeline.recheck_stages import PendingAger
from govhub.pipeline.resources import ResourceContext
from govhub.pipeline.staging import Staging
from schemas import PipelineError

__all__ = ["CountedBatches", "judge", "judged"]


class CountedBatches:
    """An iterable of batches that counts the rows it has yielded (the run's `extracted`)."""

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self._batches = batches
        self.rows = 0

    def __iter__(self) -> Any:
        for batch in self._batches:
            self.rows += batch.num_rows
            yield batch


def judged(run: IngestRun) -> bool:
    """True when the run's rows already have their verdicts (a source ingest judges them in `extract`)."""
    return run.reconciled is not None


def judge(
    ctx: ResourceContext, run: IngestRun, staging: Staging, batches: Iterable[pa.RecordBatch], *, stage: str
) -> None:
    """Check `batches` against the contract, stage the outputs, and set the run's counts and report.

    Two batches are checked at once (`ordered_map`), outputs are staged in source order. The run's
    `extracted` must be set (or `batches` be a `CountedBatches` whose count is taken at the end)
    before the counts are reconciled: accepted + rejected + pending must equal it. `stage` names the
    stage judging (`extract` or `validate`) in the error when they do not.
    """
    from quality import Scorecard, quarantine_all
    from quality import validate as validate_batch

    contract = ctx.contract
    references, versions = ctx.references_at()
    ager = PendingAger(ctx, run, staging, versions=versions)
    drift = run.drift if run.drift and run.drift.get("quarantine") else None
    counts: Counter[str] = Counter()
    reasons: Counter[tuple[str, str, str]] = Counter()
    scorecard: Scorecard | None = None
    today = ctx.today
    previous_read = _previous_read(run)

    def check(batch: pa.RecordBatch) -> Any:
        if drift:
            return quarantine_all(batch, contract, rule="schema_drift", message=drift["message"])
        return validate_batch(batch, contract, references=references, today=today)

    with (
        staging.output("accepted") as accepted,
        staging.output("rejected", prepare=_verdict_column("rejected")) as rejected,
        staging.output("pending", prepare=_verdict_column("pending")) as pending,
        staging.output("warned", prepare=_verdict_column("warned")) as warned,
    ):
        for verdict in ordered_map(check, batches):
            still, waiting, expired = ager.split(verdict.rejected)
            counts.update({k: verdict.counts[k] for k in ("accepted", "warned")})
            counts.update(rejected=verdict.counts["rejected"] - waiting.num_rows, pending=waiting.num_rows)
            card = Scorecard.from_verdict(verdict, contract, accessible=True, previous_read=previous_read)
            scorecard = card if scorecard is None else scorecard.merge(card)
            for (rule, field, severity, _dimension), n in verdict.findings.failed.items():
                reasons[(rule, field, severity)] += n
            accepted.write(verdict.accepted)
            rejected.write(still)
            rejected.write(expired)
            pending.write(waiting)
            warned.write(verdict.warned)
    if isinstance(batches, CountedBatches):
        run.extracted = batches.rows
    run.accepted, run.rejected, run.warned = counts["accepted"], counts["rejected"], counts["warned"]
    run.pending = counts["pending"]
    run.outcomes = ager.outcomes(accepted=counts["accepted"])
    settled = counts["accepted"] + counts["rejected"] + counts["pending"]
    run.reconciled = (run.extracted or 0) == settled
    run.top_reasons = _top_reasons(contract, reasons)
    if not run.reconciled:
        raise PipelineError(
            run.resource,
            run.run_id,
            stage,
            f"counts do not reconcile: extracted {run.extracted} != accepted {counts['accepted']} + "
            f"rejected {counts['rejected']} + pending {counts['pending']}",
        )
    with session_scope() as session:
        session.merge(
            QualityReport(
                run_id=run.run_id,
                resource=run.resource,
                scorecard=scorecard.to_dict() if scorecard else {},
                findings=run.top_reasons,
            )
        )


def _previous_read(run: IngestRun) -> datetime | None:
    """When the resource's previous successful ingest finished (UTC): timeliness is judged from it, on the
    overview's clock (`quality.scorecard`, `govhub.status`)."""
    from sqlalchemy import select

    with session_scope() as session:
        finished = session.scalar(
            select(IngestRun.finished_at)
            .where(
                IngestRun.resource == run.resource,
                IngestRun.status == "succeeded",
                IngestRun.kind == "ingest",
                IngestRun.run_id != run.run_id,
            )
            .order_by(IngestRun.finished_at.desc())
            .limit(1)
        )
    return finished if finished is None or finished.tzinfo else finished.replace(tzinfo=UTC)


def _top_reasons(contract: Any, reasons: Counter[tuple[str, str, str]], limit: int = 10) -> list[dict[str, Any]]:
    """The most frequent findings, labelled for a data admin: rule, field and its Chinese label."""
    labels = {f.name: f.label for f in contract.fields}
    return [
        {
            "reason": f"{rule} {labels.get(field, field)}",
            "rule": rule,
            "field": field,
            "severity": severity,
            "rows": rows,
        }
        for (rule, field, severity), rows in reasons.most_common(limit)
        if rows
    ]


def _verdict_column(verdict: str) -> Any:
    """A function adding the `verdict` column (rejected / warned) to a quarantine table."""
    return lambda t: t.append_column("verdict", pa.array([verdict] * t.num_rows, pa.string()))
