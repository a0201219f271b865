"""The ingest stages — begin, extract, validate, publish, register, advance — one function each.

Stages pass a run id; data travels through the lake's staging area, never through the caller.
The Delta commit is the point of no return: it carries the run's sequence number (a Delta app
transaction) and the proposed watermark, so a run that dies after it is completed by the next
`begin`, and one that dies before it is simply redone under the same sequence number.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog import record_version, utcnow
from govhub.compaction import compact_table
from govhub.db import session_scope
from govhub.exchange_log import log_run
from govhub.lineage import emit_ingest
from govhub.models import IngestRun, QualityReport
from govhub.pipeline.drift import apply_drift_policy
from govhub.pipeline.judge import CountedBatches, judge, judged
from govhub.pipeline.memory import release_memory
from govhub.pipeline.pending import count_open_pending
from govhub.pipeline.recheck_stages import log_pending, resolve_taken, stage_quarantined
from govhub.pipeline.resources import ResourceContext, open_resource
from govhub.pipeline.runs import acquire_lock, get_run, heartbeat, new_run_id, release_lock, resource_state
from govhub.pipeline.suite_check import increment_suite
from lake import CommitRefused, StagingArea, commit_manifest
from schemas import PipelineError, StateError, load_contract

if TYPE_CHECKING:
    from govhub.lease import LeaseKeeper

__all__ = ["advance", "begin", "extract", "fail", "publish", "register", "validate"]

log = logging.getLogger(__name__)

_STATE_KEY = "govhub.state"
_RUN_ID_KEY = "govhub.run_id"


def app_id(resource: str) -> str:
    """The Delta app-transaction id under which a resource's ingest commits are numbered."""
    return f"govhub.ingest.{resource}"


@dataclass
class _Stage:
    run: IngestRun
    ctx: ResourceContext
    lease: LeaseKeeper


@contextmanager
def _stage(run_id: str, name: str) -> Iterator[_Stage]:
    """Load the run, refresh its lock, time the stage, and record failures with the stage's name.

    The lock is kept alive while the stage runs (`LeaseKeeper`: a province-size extract, validate or
    publish can outlast `GOVHUB_LOCK_LEASE_SECONDS`), so no other worker takes it over meanwhile. A
    stage whose lock was taken over all the same (its process stalled past the lease) fails with
    `LeaseLost`, naming the new holder, instead of saving its results; `publish` also checks the lock
    right before its quarantine and Delta commits (`st.lease.check`), so it writes nothing; one that stalls
    after that check, inside delta-rs, has its commit refused when the new holder committed meanwhile
    (`lake.CommitRefused`, named in the `LeaseLost`).
    """
    from govhub.lease import LeaseKeeper, LeaseLost  # it imports the pipeline's lock functions, and so this package

    started = time.perf_counter()
    with session_scope() as session:
        run = get_run(session, run_id)
        if run.status != "running":
            raise StateError(f"run {run_id} is {run.status}; start a new run with `govhub ingest {run.resource}`")
        heartbeat(session, run.resource, run_id)
        run.stage = name
    ctx = open_resource(run.resource)
    lease = LeaseKeeper(run.resource, run_id, lease_seconds=ctx.settings.lock_lease_seconds)
    try:
        with lease:
            yield _Stage(run=run, ctx=ctx, lease=lease)
            lease.stop()
            if lease.lost is not None:  # displaced while the stage ran: its results are not saved
                raise LeaseLost(f"{name} of run {run_id} stopped: {lease.lost}")
    except StateError:
        raise
    except Exception as e:
        if name != "advance" and _displaced(lease):  # e.g. the new holder's `begin` cleared our staged files
            refused = f" {e}" if isinstance(e, CommitRefused) else ""  # it stalled inside the commit
            raise LeaseLost(f"{name} of run {run_id} stopped: {lease.lost}{refused}") from e
        raise PipelineError(run.resource, run_id, name, str(e)) from e
    finally:
        run.stage_seconds = {**(run.stage_seconds or {}), name: round(time.perf_counter() - started, 3)}


def _displaced(lease: LeaseKeeper) -> bool:
    """Whether a failed stage had lost its lock: then the takeover, not the symptom, is its error."""
    from govhub.lease import LeaseLost

    try:
        lease.check()
    except LeaseLost:
        return True
    except Exception:  # the metadata database is away: report the stage's own error
        log.warning("could not check the lock of run %s after its stage failed", lease.holder, exc_info=True)
    return False


def _save(run: IngestRun) -> None:
    with session_scope() as session:
        session.merge(run)


def begin(
    resource: str, *, orchestrator: str = "cli", kind: str = "ingest", scope: dict[str, Any] | None = None
) -> str:
    """Start a run: take the lock, complete a crashed predecessor's commit, create the run record.

    `kind` is `ingest` (rows from the source), `recheck` (pending rows, after a referenced resource
    published) or `reprocess` (quarantined rows chosen by `scope`: `rule`, `run`).
    """
    ctx = open_resource(resource)
    with session_scope() as session:
        state = resource_state(session, resource)
        seq = state.last_seq + 1
        run_id = new_run_id(resource, seq)
        displaced = acquire_lock(session, resource, run_id, lease_seconds=ctx.settings.lock_lease_seconds)
        _recover_committed_run(session, ctx)
        if displaced:
            dead = session.get(IngestRun, displaced)
            if dead is not None and dead.status == "running":  # died before its commit: redone by this run
                dead.status, dead.finished_at = "failed", utcnow()
                dead.error = f"abandoned: the process died in stage {dead.stage}; redone by the next run"
                log_run(session, dead, system=ctx.contract.source.system, outcome="failed")
            log.warning("run %s took over the lock of dead run %s", run_id, displaced)
        state = resource_state(session, resource)
        seq = state.last_seq + 1
        if not run_id.startswith(f"{resource}-{seq:06d}-"):  # recovery advanced the sequence
            new_id = new_run_id(resource, seq)
            state.lock_run_id = new_id
            run_id = new_id
        session.add(
            IngestRun(
                run_id=run_id,
                resource=resource,
                seq=seq,
                status="running",
                stage="begin",
                orchestrator=orchestrator,
                kind=kind,
                scope=scope,
                state_before=state.watermark,
            )
        )
    _clear_dead_staging(ctx)
    log.info("began run %s of %s", run_id, resource)
    emit_ingest("START", resource=resource, run_id=run_id, orchestrator=orchestrator)
    return run_id


def _clear_dead_staging(ctx: ResourceContext) -> None:
    """Remove the staged files of earlier runs of the resource: with the lock ours, none of them is alive.

    A run killed before `advance` cleared its staging folder (redone or recovered by this run) would
    otherwise leave a copy of its extraction behind for good.
    """
    StagingArea(ctx.lake.uri("staging", ctx.contract.resource), storage_options=ctx.lake.storage_options).clear()


def _recover_committed_run(session: Any, ctx: ResourceContext) -> None:
    """If the curated table holds a commit newer than the stored watermark, adopt it.

    That commit's run died between the Delta commit and `advance`: its data is in, its watermark
    is in the commit's metadata, so the state moves forward exactly as the clean run would have.
    """
    state = resource_state(session, ctx.contract.resource)
    last = ctx.curated.last_commit(app_id(ctx.contract.resource))
    if last is None or last.run_seq <= state.last_seq:
        return
    run_id = last.metadata.get(_RUN_ID_KEY, "")
    log.warning(
        "recovering run %s of %s: committed as version %s but not advanced", run_id, ctx.contract.resource, last.version
    )
    state.watermark = json.loads(last.metadata[_STATE_KEY])
    state.last_seq = last.run_seq
    state.last_version = last.version
    crashed = session.get(IngestRun, run_id)
    if crashed is not None:
        crashed.status = "succeeded"
        crashed.version = last.version
        crashed.state_after = state.watermark
        crashed.error = "recovered: committed, then the process died before advancing; completed by the next run"
        crashed.finished_at = utcnow()
        log_run(session, crashed, system=ctx.contract.source.system, outcome="ok")
        log_pending(session, crashed)
    state.pending = count_open_pending(ctx, session, also_succeeded=[run_id])
    report = session.get(QualityReport, run_id)  # written by `validate`, before the commit
    if report is not None:
        report.version = last.version
    record_version(  # registered as `register` would have: with the total and the quality scorecard
        session,
        resource=ctx.contract.resource,
        version=last.version,
        run_id=run_id,
        schema_fingerprint=ctx.schema_fingerprint,
        rows_inserted=last.rows_inserted,
        rows_updated=last.rows_updated,
        rows_deleted=last.rows_deleted,
        rows_total=ctx.curated.row_count(),
        scorecard=report.scorecard if report is not None else {},
        files=commit_manifest(ctx.curated, last.version),
    )
    session.flush()


def extract(run_id: str) -> dict[str, int]:
    """Read every change since the watermark; a source ingest judges each batch as it is read.

    The rows of a source ingest go straight into `validate`'s outputs (accepted, rejected, pending,
    warned; `govhub.pipeline.judge`), so `validate` only confirms the counts. A recheck or
    reprocess run stages the quarantined rows it takes, and `validate` judges them.
    """
    with _stage(run_id, "extract") as st:
        if st.run.kind != "ingest":  # quarantined rows again: the watermark stays where it is
            st.run.extracted = stage_quarantined(st.ctx, st.run)
            st.run.state_after = st.run.state_before
            _save(st.run)
            return {"extracted": st.run.extracted}
        connector = st.ctx.connector()
        drift = apply_drift_policy(st.ctx.contract, connector)
        st.run.drift = drift.as_dict() if drift else None
        st.run.reconciled = None
        extraction = connector.extract(st.run.state_before)
        staging = st.ctx.staging(run_id)
        staging.area.remove("extracted")  # an earlier attempt of a run staged before judging
        judge(st.ctx, st.run, staging, CountedBatches(extraction), stage="extract")
        release_memory()  # the batches are gone: publish's Delta write starts from a small process
        st.run.state_after = extraction.proposed_state
        st.run.problems = [p.to_dict() for p in extraction.problems] or None
    _save(st.run)
    return {"extracted": st.run.extracted or 0}


def validate(run_id: str) -> dict[str, int]:
    """Split the staged rows into accepted and rejected-with-reasons; counts must reconcile.

    A source ingest's rows were judged as `extract` read them: then this stage only reports them.
    """
    with _stage(run_id, "validate") as st:
        if not judged(st.run):
            staging = st.ctx.staging(run_id)
            judge(st.ctx, st.run, staging, staging.batches("extracted"), stage="validate")
    _save(st.run)
    return {
        "accepted": st.run.accepted or 0,
        "rejected": st.run.rejected or 0,
        "pending": st.run.pending or 0,
        "warned": st.run.warned or 0,
    }


def publish(run_id: str) -> dict[str, int | None]:
    """Quarantine the rejected rows, then MERGE the accepted ones in one Delta commit."""
    with _stage(run_id, "publish") as st:
        staging = st.ctx.staging(run_id)
        flagged = staging.concatenated(["rejected", "pending", "warned"])
        st.lease.check()  # still the lock's holder: nothing below is written by a displaced run
        # the quarantine write lands on the version read before its own lock check, or is refused
        if st.run.kind != "ingest":  # marks the rows it took and writes its own slice, in one commit
            resolve_taken(st.ctx, st.run, staging, flagged, fence=st.lease.check)
        elif flagged is not None:
            st.ctx.quarantine.write(flagged, run_seq=st.run.seq, run_id=run_id, fence=st.lease.check)
        metadata = {
            _RUN_ID_KEY: run_id,
            _STATE_KEY: json.dumps(st.run.state_after, ensure_ascii=False, sort_keys=True),
            "govhub.counts": json.dumps(
                {"extracted": st.run.extracted, "accepted": st.run.accepted, "rejected": st.run.rejected}
            ),
        }
        info = st.ctx.curated.commit(
            staging.source("accepted", st.ctx.curated_schema),
            app_id=app_id(st.run.resource),
            run_seq=st.run.seq,
            metadata=metadata,
            evolve=st.ctx.contract.schema_drift == "evolve",
            fence=st.lease.check,  # checked right before delta-rs writes and commits
        )
        st.run.version = info.version if info else None
        st.run.stage_seconds = {**(st.run.stage_seconds or {})}
        if info:
            with session_scope() as session:
                record_version(
                    session,
                    resource=st.run.resource,
                    version=info.version,
                    run_id=run_id,
                    schema_fingerprint=st.ctx.schema_fingerprint,
                    rows_inserted=info.rows_inserted,
                    rows_updated=info.rows_updated,
                    rows_deleted=info.rows_deleted,
                    files=commit_manifest(st.ctx.curated, info.version),
                )
            with session_scope() as session:  # the run whose changes pass the threshold compacts
                compact_table(
                    session,
                    st.ctx.curated,
                    threshold=st.ctx.settings.lake_compact_threshold,
                    holder=run_id,
                    lease_seconds=st.ctx.settings.lock_lease_seconds,
                )
    _save(st.run)
    return {"version": st.run.version}


def register(run_id: str) -> dict[str, Any]:
    """Register the version in the catalogue with its quality: the increment's suite result, the scorecard.

    An increment of `gx_full_suite_min_rows` live rows or more gets the full Great Expectations
    suite; a smaller one gets the dataset-level expectations evaluated in Arrow (its row rules were
    already judged row by row in `validate`), and the scheduled check (`check_version`) runs the
    full GX suite on the version later. Both results are stored the same way, per version.
    """
    from catalog import register_contracts
    from quality.suite import sample_stream

    with _stage(run_id, "register") as st, session_scope() as session:
        register_contracts(session, [st.ctx.contract])  # idempotent: the entry follows its contract
        report = session.get(QualityReport, run_id)
        if st.run.version is not None:
            settings = st.ctx.settings
            staged = st.ctx.staging(run_id).source("accepted", st.ctx.curated_schema)
            increment = sample_stream(staged, max_rows=settings.gx_max_rows)
            suite = increment_suite(increment, st.ctx.contract, full_from=settings.gx_full_suite_min_rows)
            report.suite_success, report.suite_result = suite.success, suite.to_dict()
            report.version = st.run.version
            record_version(
                session,
                resource=st.run.resource,
                version=st.run.version,
                run_id=run_id,
                scorecard=report.scorecard,
                rows_total=st.ctx.curated.row_count(),
            )
        scorecard = report.scorecard
    _save(st.run)
    return {"version": st.run.version, "scorecard": scorecard}


def advance(run_id: str) -> dict[str, Any]:
    """Move the watermark to the run's proposed state (only after the commit) and release the lock."""
    with _stage(run_id, "advance") as st:
        st.lease.stop()  # it releases the lock below: no refresh may find it gone
        st.lease.check()  # and a displaced run must not move the watermark
        with session_scope() as session:
            state = resource_state(session, st.run.resource)
            if state.last_seq >= st.run.seq:
                raise StateError(
                    f"run {run_id} (seq {st.run.seq}) is older than the committed state "
                    f"(seq {state.last_seq}); it must not advance"
                )
            state.watermark = st.run.state_after
            state.last_seq = st.run.seq
            if st.run.version is not None:
                state.last_version = st.run.version
            release_lock(session, st.run.resource, run_id)
            st.run.status, st.run.stage, st.run.finished_at = "succeeded", "done", utcnow()
            st.run.seconds = round(sum((st.run.stage_seconds or {}).values()), 3)
            if st.run.pending or st.run.kind != "ingest":
                state.pending = count_open_pending(st.ctx, session, also_succeeded=[run_id])
            session.merge(st.run)
            system = st.ctx.contract.source.system if st.run.kind == "ingest" else f"quarantine/{st.run.resource}"
            log_run(session, st.run, system=system, outcome="ok")
            log_pending(session, st.run)
        st.ctx.staging(run_id).clear()
    _save(st.run)
    result = summary(st.run)
    if st.run.version is not None:
        _check_corrections(st.run.resource)
    emit_ingest("COMPLETE", resource=st.run.resource, run_id=run_id, orchestrator=st.run.orchestrator, summary=result)
    return result


def _check_corrections(resource: str) -> None:
    """Close the confirmed correction flags the new version fixed (校核纠错, `govhub.corrections`).

    The run has succeeded by now; a check that fails is logged and made again at the next publish
    (or by `govhub correction check`), since each check compares the whole current version.
    """
    from govhub.corrections import check_published

    try:
        closed = check_published(resource)
    except Exception:
        log.exception("correction check after publishing %s failed; it runs again at the next publish", resource)
        return
    if closed:
        log.info("%s: %s correction flag(s) closed by the new version", resource, len(closed))


def summary(run: IngestRun) -> dict[str, Any]:
    """The facts of a run a caller prints or an Asset event carries."""
    return {
        "resource": run.resource,
        "run_id": run.run_id,
        "kind": run.kind,
        "status": run.status,
        "version": run.version,
        "extracted": run.extracted,
        "accepted": run.accepted,
        "rejected": run.rejected,
        "pending": run.pending,
        "warned": run.warned,
        "outcomes": run.outcomes or {},
        "reconciled": run.reconciled,
        "seconds": run.seconds,
        "top_reasons": run.top_reasons or [],
        "problems": run.problems or [],
    }


def fail(run_id: str, error: str) -> None:
    """Mark a run failed and release its lock; the watermark stays where it was."""
    with session_scope() as session:
        run = session.get(IngestRun, run_id)
        if run is None or run.status != "running":
            return
        run.status, run.error, run.finished_at = "failed", error[:4000], utcnow()
        release_lock(session, run.resource, run_id)
        log_run(session, run, system=load_contract(run.resource).source.system, outcome="failed")
    log.error("run %s failed: %s", run_id, error)
    emit_ingest("FAIL", resource=run.resource, run_id=run_id, orchestrator=run.orchestrator, error=error)
