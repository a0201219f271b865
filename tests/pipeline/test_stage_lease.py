"""An ingest stage longer than the lock's lease keeps its lock; one whose lock was taken over commits nothing.

The lease here is 1 s and `publish` is held just before its Delta write for several leases. The stage
keeps its lock alive meanwhile, so another run cannot take it over. When the run's process stalls (no
refresh reaches the database) and another worker takes the lock over, the stalled publish meets the
fence right before its commit: the run fails naming the new holder, the curated table is untouched,
and the re-run leaves the state of one clean run.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from govhub.db import session_scope
from govhub.lease import LeaseKeeper, LeaseLost
from govhub.models import IngestRun
from govhub.pipeline import run_ingest
from govhub.pipeline.resources import open_resource
from govhub.pipeline.runs import acquire_lock, release_lock, resource_state
from govhub.settings import get_settings
from lake.curated import CuratedTable
from schemas import StateError

LEASE = 1
OTHER = "person-000001-other1"  # another worker's run of the same sequence


@pytest.fixture
def short_lease(hub: Any) -> Any:
    get_settings().lock_lease_seconds = LEASE
    return hub


def _holder() -> str | None:
    with session_scope() as session:
        return resource_state(session, "person").lock_run_id


def _runs() -> list[IngestRun]:
    with session_scope() as session:
        by_start = select(IngestRun).where(IngestRun.resource == "person").order_by(IngestRun.seq, IngestRun.started_at)
        runs = list(session.scalars(by_start))
        session.expunge_all()
        return runs


def _assert_one_clean_run(summary: dict[str, Any]) -> None:
    """The state one clean first run leaves: sequence 1, version 0, each row once in curated or quarantine."""
    assert summary["status"] == "succeeded" and summary["version"] == 0
    assert summary["extracted"] == summary["accepted"] + summary["rejected"] + summary["pending"]
    ctx = open_resource("person")
    assert ctx.curated.row_count() == summary["accepted"]
    last = ctx.curated.last_commit("govhub.ingest.person")
    assert last is not None and last.version == 0 and last.run_seq == 1
    quarantined = ctx.quarantine.read().to_pylist()
    assert sum(1 for row in quarantined if row["verdict"] == "rejected") == summary["rejected"]
    with session_scope() as session:
        state = resource_state(session, "person")
        assert (state.last_seq, state.last_version, state.lock_run_id) == (1, 0, None)


def _stall_first_holder(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The first run to take a lock stalls: its lease refreshes never reach the database, while any later
    holder's do; returns the list the stalled run's id is put in."""
    run = LeaseKeeper._run
    stalled: list[str] = []

    def refresh(self: LeaseKeeper) -> None:  # the first run's process stalls: no refresh reaches the database
        if not stalled:
            stalled.append(self.holder)
        if self.holder == stalled[0]:
            self._stop.wait(60)
        else:
            run(self)

    monkeypatch.setattr(LeaseKeeper, "_run", refresh)
    return stalled


def _stall_inside_write(
    module: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], list[dict[str, Any]], pytest.ExceptionInfo[LeaseLost]]:
    """Run an ingest whose process stalls past the fence inside `module`'s delta-rs write for longer than the
    lease, while another worker takes the lock over and runs the resource to the end; (the stalled run's id,
    the other worker's summary, the stalled run's LeaseLost)."""
    write = module.write_deltalake
    stalled = _stall_first_holder(monkeypatch)
    other: list[dict[str, Any]] = []

    def stalled_write(*args: Any, **kwargs: Any) -> None:
        if not other and _holder() == stalled[0]:  # past the fence: the stalled run's own write
            time.sleep(LEASE + 1)  # the lease runs out, and another worker runs the resource to the end
            worker = threading.Thread(target=lambda: other.append(run_ingest("person", recheck=False)))
            worker.start()
            worker.join(300)
            assert not worker.is_alive() and other
        write(*args, **kwargs)

    monkeypatch.setattr(module, "write_deltalake", stalled_write)
    with pytest.raises(LeaseLost) as lost:
        run_ingest("person", recheck=False)
    monkeypatch.undo()
    return stalled, other, lost


def test_a_stage_longer_than_the_lease_is_not_displaced(short_lease: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    first_load = CuratedTable._first_load
    refused: list[str] = []

    def long_publish(self: CuratedTable, *args: Any, **kwargs: Any) -> Any:
        time.sleep(3 * LEASE)  # publish has run for three leases
        with session_scope() as session:
            try:
                acquire_lock(session, "person", OTHER, lease_seconds=LEASE)
            except StateError as e:
                refused.append(str(e))
        return first_load(self, *args, **kwargs)

    monkeypatch.setattr(CuratedTable, "_first_load", long_publish)
    summary = run_ingest("person", recheck=False)
    assert len(refused) == 1 and f"is being ingested by run {summary['run_id']}" in refused[0]
    _assert_one_clean_run(summary)


def test_a_run_whose_lock_was_taken_over_during_publish_does_not_commit(
    short_lease: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_load = CuratedTable._first_load
    stalled = _stall_first_holder(monkeypatch)

    def taken_over(self: CuratedTable, *args: Any, **kwargs: Any) -> Any:
        if _holder() == stalled[0]:  # the lease runs out, and another worker takes the lock over
            time.sleep(LEASE + 1)
            with session_scope() as session:
                assert acquire_lock(session, "person", OTHER, lease_seconds=LEASE) == stalled[0]
        return first_load(self, *args, **kwargs)

    monkeypatch.setattr(CuratedTable, "_first_load", taken_over)
    with pytest.raises(LeaseLost, match=f"run {OTHER} holds it now") as lost:
        run_ingest("person", recheck=False)
    assert f"run {stalled[0]} no longer holds the lock of 'person'" in str(lost.value)
    assert f"run {OTHER} holds it now" in str(lost.value) and "Nothing was committed" in str(lost.value)
    ctx = open_resource("person")
    assert not ctx.curated.exists() or ctx.curated.last_commit("govhub.ingest.person") is None  # nothing committed
    assert _holder() == OTHER  # the new holder keeps its lock
    (failed,) = _runs()
    assert failed.run_id == stalled[0] and failed.status == "failed" and "LeaseLost" in (failed.error or "")

    with session_scope() as session:  # the other worker is gone; the re-run redoes the same sequence
        release_lock(session, "person", OTHER)
    summary = run_ingest("person", recheck=False)
    assert summary["run_id"].startswith("person-000001-")
    _assert_one_clean_run(summary)


def test_a_run_that_stalls_inside_its_commit_after_the_fence_is_refused(
    short_lease: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fence passes, then the run's process stalls inside delta-rs' write for longer than the lease:
    another worker takes the lock over and runs the resource to the end. The stalled commit is refused
    (its table moved on), the run fails naming the takeover and the refusal, and the table holds exactly
    the other worker's commit; the re-run converges on the state of one clean run."""
    import lake._commit as commit_module
    from lake import CommitRefused

    stalled, other, lost = _stall_inside_write(commit_module, monkeypatch)
    message = str(lost.value)
    assert f"publish of run {stalled[0]} stopped" in message and "Nothing was committed" in message
    assert "govhub.ingest.person sequence 1 was refused" in message and "re-run the ingest" in message
    assert isinstance(lost.value.__cause__, CommitRefused)

    (theirs,) = other
    assert theirs["run_id"] != stalled[0]
    _assert_one_clean_run(theirs)  # exactly the other worker's commit: one version, its rows once
    ctx = open_resource("person")
    assert len(ctx.curated.history()) == 1 and ctx.curated.read().num_rows == theirs["accepted"]
    assert ctx.curated.row_index_problems() == []
    failed, succeeded = _runs()
    assert (failed.run_id, failed.status, succeeded.run_id) == (stalled[0], "failed", theirs["run_id"])

    again = run_ingest("person", recheck=False)  # the re-run: nothing new at the source, nothing committed
    assert again["status"] == "succeeded" and again["version"] is None
    ctx = open_resource("person")
    assert ctx.curated.row_count() == theirs["accepted"] and len(ctx.curated.history()) == 1
    with session_scope() as session:
        state = resource_state(session, "person")
        assert (state.last_seq, state.last_version, state.lock_run_id) == (2, 0, None)


def test_a_run_that_stalls_inside_its_quarantine_write_after_the_fence_is_refused(
    short_lease: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same stall inside delta-rs' quarantine write: the other worker runs the resource to the end (its
    quarantine slice of the same sequence written first). The stalled write is refused, so the quarantine
    holds every rejected record once, with its reasons (the stalled run's copy neither replaces it nor is
    added to it), nothing of the stalled run is in the curated table, and the re-run converges."""
    import lake.quarantine as quarantine_module
    from lake import CommitRefused

    stalled, other, lost = _stall_inside_write(quarantine_module, monkeypatch)
    message = str(lost.value)
    assert f"publish of run {stalled[0]} stopped" in message and "quarantine table 'person'" in message
    assert f"the quarantine slice of run {stalled[0]} (sequence 1) was refused" in message, message
    assert isinstance(lost.value.__cause__, CommitRefused)

    (theirs,) = other
    assert theirs["rejected"] > 0
    _assert_one_clean_run(theirs)  # every rejected record once, the other worker's
    ctx = open_resource("person")
    assert set(ctx.quarantine.read().column("run_id").to_pylist()) == {theirs["run_id"]}
    assert all(row["reasons"] for row in ctx.quarantine.read(verdicts=["rejected"]).to_pylist())
    assert len(ctx.curated.history()) == 1

    again = run_ingest("person", recheck=False)  # the re-run: nothing new at the source, nothing committed
    assert again["status"] == "succeeded" and again["version"] is None
    ctx = open_resource("person")
    assert ctx.curated.row_count() == theirs["accepted"] and len(ctx.curated.history()) == 1
    rejected = ctx.quarantine.read(verdicts=["rejected"])
    assert rejected.num_rows == theirs["rejected"]
