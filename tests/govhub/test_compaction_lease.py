"""A compaction longer than the lock's lease keeps its lock; one whose lock was taken over writes nothing.

The lease here is 1 s and the compaction is held inside its MERGE for several leases: the lock is
refreshed meanwhile, so neither an ingest run nor a second compaction displaces it. When the refresh
stops (the holder's process stalled) and another worker takes the lock over, the stalled compaction
meets the fence right before its Delta commit and stops: the table, its files and the new holder's
lock are as they were.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compaction_support import PEOPLE, RENAMED, pending_person_hub, person_names, person_table
from deltalake.table import TableMerger
from sqlalchemy.orm import Session

from govhub.compaction import CompactionOutcome, compact_lake
from govhub.db import engine_for
from govhub.lease import LeaseKeeper, LeaseLost
from govhub.pipeline.runs import acquire_lock, heartbeat, release_lock, resource_state
from govhub.settings import get_settings, reset_settings
from lake.curated import CuratedTable
from schemas import StateError

LEASE = 1
INGEST = "person-000003-abcdef"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A hub whose person table has a base of 40 and 10 pending changes, and a lease of 1 s."""
    yield pending_person_hub(tmp_path, monkeypatch, lease_seconds=LEASE)
    reset_settings()


def _files(home: Path) -> set[Path]:
    return {p for p in home.rglob("*") if p.is_file() and "person" in p.parts}


def _session() -> Session:
    return Session(engine_for(get_settings().metadata_url))


def _compact_held_in_merge(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event, list[Any]]:
    """Start `compact_lake(["person"])` in a thread that stops inside its MERGE until released."""
    inside, go_on = threading.Event(), threading.Event()
    merge = CuratedTable._merge

    def held(self: CuratedTable, *args: Any, **kwargs: Any) -> Any:
        inside.set()
        assert go_on.wait(60)
        return merge(self, *args, **kwargs)

    monkeypatch.setattr(CuratedTable, "_merge", held)
    outcomes: list[Any] = []
    worker = threading.Thread(target=lambda: outcomes.extend(compact_lake(["person"], force=True)))
    worker.start()
    outcomes.append(worker)
    assert inside.wait(60)
    return inside, go_on, outcomes


def _finish(go_on: threading.Event, outcomes: list[Any]) -> CompactionOutcome:
    go_on.set()
    worker = outcomes.pop(0)
    worker.join(60)
    assert not worker.is_alive()
    (done,) = outcomes
    assert isinstance(done, CompactionOutcome)
    return done


def test_a_compaction_longer_than_the_lease_is_not_displaced(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, go_on, outcomes = _compact_held_in_merge(monkeypatch)
    try:
        time.sleep(3 * LEASE)  # the compaction has run for three leases
        with _session() as session:
            holder = resource_state(session, "person").lock_run_id
            assert holder is not None and holder.startswith("compact-")
            with pytest.raises(StateError, match="is being ingested by run compact-"):
                acquire_lock(session, "person", INGEST, lease_seconds=LEASE)  # an ingest run cannot take it
        (second,) = compact_lake(["person"], force=True)  # nor can a second compaction
        assert second.info is None and second.busy is not None and "another compaction compact-" in second.busy
    finally:
        done = _finish(go_on, outcomes)
    assert done.busy is None and done.info is not None and done.info.rows == 10
    table = person_table()
    assert len(table.compactions()) == 1 and table.pending_rows()[0] == 0
    assert person_names() == {**PEOPLE, **RENAMED}
    with _session() as session:
        assert resource_state(session, "person").lock_run_id is None  # released by its holder


def test_a_compaction_whose_lock_was_taken_over_does_not_commit(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def stalled(self: LeaseKeeper) -> None:  # the holder's process stalls: no refresh reaches the database
        self._stop.wait(60)

    monkeypatch.setattr(LeaseKeeper, "_run", stalled)
    before = _files(home)
    _, go_on, outcomes = _compact_held_in_merge(monkeypatch)
    try:
        time.sleep(LEASE + 1.5)  # the lease runs out: an ingest run takes the lock over
        with _session() as session:
            displaced = acquire_lock(session, "person", INGEST, lease_seconds=LEASE)
            assert displaced is not None and displaced.startswith("compact-")
    finally:
        done = _finish(go_on, outcomes)
    assert done.info is None and done.busy is not None
    assert "lost the lock while compacting" in done.busy and f"ingest run {INGEST}" in done.busy
    table = person_table()
    assert table.compactions() == [] and table.pending_rows()[0] == 10  # nothing committed
    assert person_names() == {**PEOPLE, **RENAMED} and _files(home) == before  # and no file written or removed
    with _session() as session:
        assert resource_state(session, "person").lock_run_id == INGEST  # the new holder keeps its lock
        release_lock(session, "person", INGEST)
        session.commit()
    assert compact_lake(["person"], force=True)[0].info is not None  # the next round compacts it


def test_a_compaction_that_stalls_inside_its_merge_after_the_fence_is_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fence passes, then the compaction's process stalls inside delta-rs' MERGE past the lease: another
    compaction takes the lock over and compacts. The stalled MERGE's commit is refused (the base moved on),
    reported like a lost lock; the base holds exactly one compaction and every reader sees the same rows."""

    def stalled(self: LeaseKeeper) -> None:  # the holder's process stalls: no refresh reaches the database
        self._stop.wait(60)

    execute = TableMerger.execute
    other: list[CompactionOutcome] = []
    merges: list[int] = []

    def held(merger: TableMerger) -> dict[str, Any]:
        merges.append(1)
        if len(merges) == 1:  # the stalled compaction's MERGE, past its fence
            time.sleep(LEASE + 1.5)  # the lease runs out: another compaction takes the lock over and compacts
            monkeypatch.setattr(LeaseKeeper, "_run", keeper_run)
            worker = threading.Thread(target=lambda: other.extend(compact_lake(["person"], force=True)))
            worker.start()
            worker.join(60)
            assert not worker.is_alive()
        return execute(merger)

    keeper_run = LeaseKeeper._run
    monkeypatch.setattr(LeaseKeeper, "_run", stalled)
    monkeypatch.setattr(TableMerger, "execute", held)
    (done,) = compact_lake(["person"], force=True)
    (theirs,) = other
    assert len(merges) == 2 and theirs.busy is None and theirs.info is not None and theirs.info.rows == 10
    assert done.info is None and done.busy is not None
    assert "lost the lock while compacting (its commit was refused" in done.busy
    table = person_table()
    assert [c.base_version for c in table.compactions()] == [theirs.info.base_version]
    assert table.pending_rows()[0] == 0 and person_names() == {**PEOPLE, **RENAMED}
    assert table.row_index_problems() == []
    assert compact_lake(["person"], force=True)[0].info is None  # the next round: nothing left to compact
    with _session() as session:
        assert resource_state(session, "person").lock_run_id is None


def test_the_keeper_refreshes_the_lock_and_the_fence_names_the_new_holder(home: Path) -> None:
    holder = "compact-000000000001"
    with _session() as session:
        acquire_lock(session, "person", holder, lease_seconds=LEASE)
        with LeaseKeeper("person", holder, lease_seconds=LEASE) as lease:
            first = resource_state(session, "person").lock_heartbeat
            time.sleep(2 * LEASE)
            session.expire_all()
            assert resource_state(session, "person").lock_heartbeat != first  # refreshed meanwhile
            lease.check()
            release_lock(session, "person", holder)  # taken from it: as if another worker took over
            acquire_lock(session, "person", INGEST, lease_seconds=LEASE)
            with pytest.raises(LeaseLost, match=f"run {holder} no longer holds the lock of 'person'"):
                lease.check()
            assert lease.lost is not None and "Nothing was committed" in lease.lost
        assert resource_state(session, "person").lock_run_id == INGEST


def test_an_ingest_run_keeps_its_per_stage_heartbeat_and_its_lease(home: Path) -> None:
    """Ingest runs are unchanged: each stage's heartbeat refreshes the lock, and a run silent for longer
    than the lease is displaced (the next stage's heartbeat then stops it)."""
    with _session() as session:
        acquire_lock(session, "person", INGEST, lease_seconds=LEASE)
        session.commit()
        time.sleep(LEASE / 2)
        heartbeat(session, "person", INGEST)
        session.commit()
        with pytest.raises(StateError, match=f"is being ingested by run {INGEST}"):
            acquire_lock(session, "person", "person-000004-fedcba", lease_seconds=LEASE)
        time.sleep(LEASE + 0.5)
        assert acquire_lock(session, "person", "person-000004-fedcba", lease_seconds=LEASE) == INGEST
        with pytest.raises(StateError, match="another run took over"):
            heartbeat(session, "person", INGEST)
