"""An ingest stage longer than the lock's lease keeps its lock; one whose lock was taken over commits nothing.

The lease here is 1 s and `publish` is held just before its Delta write for several leases. The stage
keeps its lock alive meanwhile, so another run cannot take it over. When the run's process stalls (no
refresh reaches the database) and another worker takes the lock over, the stalled publish meets the
fence right before its commit: the run fails naming the new holder, the curated table is untouched,
and the re-run leaves the state of one clean run.
"""

from __future__ import annotations

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
        runs = list(session.scalars(select(IngestRun).where(IngestRun.resource == "person").order_by(IngestRun.seq)))
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
    run = LeaseKeeper._run
    first_load = CuratedTable._first_load
    stalled: list[str] = []

    def refresh(self: LeaseKeeper) -> None:  # the first run's process stalls: no refresh reaches the database
        if not stalled:
            stalled.append(self.holder)
        if self.holder == stalled[0]:
            self._stop.wait(60)
        else:
            run(self)

    def taken_over(self: CuratedTable, *args: Any, **kwargs: Any) -> Any:
        if _holder() == stalled[0]:  # the lease runs out, and another worker takes the lock over
            time.sleep(LEASE + 1)
            with session_scope() as session:
                assert acquire_lock(session, "person", OTHER, lease_seconds=LEASE) == stalled[0]
        return first_load(self, *args, **kwargs)

    monkeypatch.setattr(LeaseKeeper, "_run", refresh)
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
