"""A commit lands only on the table version it was decided against: a stalled writer's commit is refused.

Each test stalls one writer ("the stalled writer") after its last check and before or inside its delta-rs
write-and-commit, lets another writer of the same resource commit meanwhile (what a worker that took the
lock over does), then lets the stalled one go on. Its commit must be refused with nothing of it in the
log, the table must hold exactly the other writer's commit (as a clean run of that writer leaves it, read
back by every reader and by a cold handle), and the stalled writer's re-run must converge on the state of
the two runs made one after the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError
from deltalake.table import TableMerger

import lake._commit as commit_module
from lake import CommitRefused, CuratedTable, Lake
from lake._guard import COMMIT_ID_KEY
from lake.curated import TABLE_CONFIGURATION
from schemas import LakeError

APP = "govhub.ingest.person"
META = {"govhub.run_id": "r"}


def _stall_before(monkeypatch: pytest.MonkeyPatch, other: Callable[[], object]) -> list[int]:
    """The next delta-rs write of a run's commit (`lake/_commit.py`) waits for `other` (the other writer) to
    commit first, as a writer stalled right after its fence does; `other`'s own writes pass through."""
    real = commit_module.write_deltalake
    calls: list[int] = []

    def stalled(*args: Any, **kwargs: Any) -> None:
        if not calls:
            calls.append(1)
            other()
        real(*args, **kwargs)

    monkeypatch.setattr(commit_module, "write_deltalake", stalled)
    return calls


def _stall_inside(monkeypatch: pytest.MonkeyPatch, other: Callable[[], object]) -> list[int]:
    """The next delta-rs write of a run's commit (`lake/_commit.py`) stalls INSIDE delta-rs: when delta-rs (its
    table state loaded) pulls the first batch of rows, the other writer commits from another thread before the
    rows flow on."""
    real = commit_module.write_deltalake
    calls: list[int] = []

    def stalled(table: Any, data: pa.Table | pa.RecordBatchReader, **kwargs: Any) -> None:
        if calls:
            return real(table, data, **kwargs)
        calls.append(1)
        if isinstance(data, pa.Table):
            data = pa.RecordBatchReader.from_batches(data.schema, data.to_batches())
        reader = data

        def rows() -> Iterator[pa.RecordBatch]:
            worker = threading.Thread(target=other)  # delta-rs' own runtime thread cannot run a write itself
            worker.start()
            worker.join(60)
            assert not worker.is_alive()
            yield from reader

        return real(table, pa.RecordBatchReader.from_batches(reader.schema, rows()), **kwargs)

    monkeypatch.setattr(commit_module, "write_deltalake", stalled)
    return calls


def _stall_merge(monkeypatch: pytest.MonkeyPatch, other: Callable[[], object]) -> list[int]:
    """The next MERGE waits for `other` to commit before delta-rs executes it (after the compaction's fence)."""
    real = TableMerger.execute
    calls: list[int] = []

    def stalled(self: TableMerger) -> dict[str, Any]:
        if not calls:
            calls.append(1)
            other()
        return real(self)

    monkeypatch.setattr(TableMerger, "execute", stalled)
    return calls


def _readers(table: CuratedTable) -> dict[str, Any]:
    """What every reader of the table says: rows, versions, history, feed, counts, key set, index health.

    A cold handle (another process) reads the same rows, and its row index files agree with a scan."""
    key = table.contract.primary_key[0]
    cold = CuratedTable(table.uri, table.contract, storage_options=table.storage_options)  # another process
    rows = table.read().sort_by(key)
    assert cold.read().sort_by(key).equals(rows)
    assert cold.row_index_problems() == []  # the row index files agree with a scan
    assert pa.Table.from_batches(list(table.scan()), schema=rows.schema).sort_by(key).equals(rows)
    snapshot = table.changes(after_version=None).sort_by(key)
    keys = rows.column(key).to_pylist()
    return {
        "rows": rows.to_pylist(),
        "version": table.version(),
        "row_count": table.row_count(),
        "history": [(e["version"], e.get("govhub.app_id"), e.get("govhub.run_seq")) for e in table.history()],
        "snapshot": snapshot.column(key).to_pylist(),
        "key_set": table.key_set(key).contains(pa.array(keys)).to_pylist(),
        "compactions": [(c.base_version, c.compacted_through) for c in table.compactions()],
    }


def _refused(error: pytest.ExceptionInfo[CommitRefused], *, commit: str, since: str, won: str) -> None:
    message = str(error.value)
    assert "curated table 'person'" in message and commit in message, message
    assert since in message and won in message, message
    assert "Nothing was committed" in message and ("re-run" in message or "compact the table again" in message)


@pytest.fixture
def clean(tmp_path: Path) -> Lake:
    """A second lake where the same runs are made one after the other, never raced: the reference."""
    return Lake(str(tmp_path / "clean"))


@pytest.mark.parametrize("stall", [_stall_before, _stall_inside], ids=["before-delta-rs", "inside-delta-rs"])
@pytest.mark.parametrize("empty", [False, True], ids=["no-table", "empty-table"])
def test_a_first_load_into_a_table_another_writer_created_meanwhile_is_refused(
    lake: Lake, clean: Lake, person: Any, rows: Any, monkeypatch: pytest.MonkeyPatch, stall: Any, empty: bool
) -> None:
    stalled, other = lake.curated(person), lake.curated(person)  # two workers on one resource
    if empty:  # a table without rows (all deleted before the change table existed): the first load appends
        for table in (stalled, clean.curated(person)):
            write_deltalake(table.uri, table.schema.empty_table(), mode="append", configuration=TABLE_CONFIGURATION)
    first = 1 if empty else 0  # the version the first load becomes
    theirs, ours = rows(person, list("abc")), rows(person, list("abcd"), tag="v2")
    calls = stall(monkeypatch, lambda: other.commit(theirs, app_id=APP, run_seq=1, metadata=META))
    with pytest.raises(CommitRefused) as refused:
        stalled.commit(ours, app_id=APP, run_seq=1, metadata=META)
    assert calls == [1]
    since = "was at version 0" if empty else "did not exist"
    _refused(refused, commit=f"{APP} sequence 1", since=since, won=f"version {first}: {APP} sequence 1")
    assert refused.value.expected == (0 if empty else None) and refused.value.found == first
    monkeypatch.undo()

    clean.curated(person).commit(theirs, app_id=APP, run_seq=1, metadata=META)
    assert _readers(stalled) == _readers(clean.curated(person))  # exactly the other writer's commit
    assert DeltaTable(stalled.uri).version() == first and stalled.last_commit(APP).run_seq == 1  # type: ignore[union-attr]

    again = stalled.commit(ours, app_id=APP, run_seq=2, metadata=META)  # the re-run, decided on the table as it is
    clean.curated(person).commit(ours, app_id=APP, run_seq=2, metadata=META)
    assert again is not None and (again.version, again.rows_inserted, again.rows_updated) == (first + 1, 1, 3)
    assert _readers(stalled) == _readers(clean.curated(person))


@pytest.mark.parametrize("stall", [_stall_before, _stall_inside], ids=["before-delta-rs", "inside-delta-rs"])
@pytest.mark.parametrize("existing", [False, True], ids=["creating-the-change-table", "appending"])
def test_a_change_commit_on_a_change_table_that_moved_on_is_refused(
    lake: Lake, clean: Lake, person: Any, rows: Any, monkeypatch: pytest.MonkeyPatch, stall: Any, existing: bool
) -> None:
    history = [rows(person, list("abcde"))] + ([rows(person, ["a"], tag="v1b")] if existing else [])
    for table in (lake.curated(person), clean.curated(person)):
        for seq, changes in enumerate(history, start=1):
            table.commit(changes, app_id=APP, run_seq=seq, metadata=META)
    seq = len(history) + 1
    theirs = rows(person, ["b", "c", "f"], tag="v3", deleted=[False, True, False])
    ours = rows(person, ["b", "d"], tag="v4", deleted=[False, True])
    stalled, other = lake.curated(person), lake.curated(person)
    stall(monkeypatch, lambda: other.commit(theirs, app_id=APP, run_seq=seq, metadata=META))
    with pytest.raises(CommitRefused) as refused:
        stalled.commit(ours, app_id=APP, run_seq=seq, metadata=META)
    since = "was at version 0" if existing else "did not exist"
    _refused(refused, commit=f"{APP} sequence {seq}", since=since, won=f"{APP} sequence {seq}")
    assert "(change table)" in str(refused.value)
    monkeypatch.undo()

    clean.curated(person).commit(theirs, app_id=APP, run_seq=seq, metadata=META)
    assert _readers(stalled) == _readers(clean.curated(person))
    assert stalled.last_commit(APP).run_seq == seq  # type: ignore[union-attr]

    again = stalled.commit(ours, app_id=APP, run_seq=seq + 1, metadata=META)
    reference = clean.curated(person).commit(ours, app_id=APP, run_seq=seq + 1, metadata=META)
    assert again is not None and reference is not None
    assert (again.version, again.rows_updated, again.rows_deleted) == (reference.version, 1, 1)
    assert _readers(stalled) == _readers(clean.curated(person))


def test_a_compaction_of_a_base_another_compaction_moved_on_is_refused(
    lake: Lake, clean: Lake, person: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for table in (lake.curated(person), clean.curated(person)):
        table.commit(rows(person, list("abcde")), app_id=APP, run_seq=1, metadata=META)
        table.commit(rows(person, ["b", "c"], tag="v1", deleted=[False, True]), app_id=APP, run_seq=2, metadata=META)
    stalled, other = lake.curated(person), lake.curated(person)
    calls = _stall_merge(monkeypatch, other.compact)
    with pytest.raises(CommitRefused) as refused:
        stalled.compact()
    assert calls == [1]
    _refused(
        refused,
        commit="the compaction through change version 0",
        since="was at version 0",
        won="version 1: a compaction through change version 0",
    )
    monkeypatch.undo()

    clean.curated(person).compact()
    assert _readers(stalled) == _readers(clean.curated(person))
    assert len(stalled.compactions()) == 1 and stalled.pending_rows() == (0, 4)
    assert stalled.compact() is None  # the re-run: nothing left to compact
    follow = rows(person, ["a", "g"], tag="v5")
    for table in (stalled, clean.curated(person)):  # the next run classifies against the new base's index
        info = table.commit(follow, app_id=APP, run_seq=3, metadata=META)
        assert info is not None and (info.rows_inserted, info.rows_updated) == (1, 1)
    assert _readers(stalled) == _readers(clean.curated(person))


def test_a_commit_whose_own_table_did_not_move_still_lands(
    lake: Lake, person: Any, legal_entity: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Legitimate concurrency is untouched: another resource's commit, and a compaction of the base while a
    run appends to the change table, do not refuse a commit (each table has its own versions)."""
    people, entities = lake.curated(person), lake.curated(legal_entity)
    people.commit(rows(person, list("abcde")), app_id=APP, run_seq=1, metadata=META)
    people.commit(rows(person, ["a"], tag="v1b"), app_id=APP, run_seq=2, metadata=META)
    entities.commit(rows(legal_entity, list("pq")), app_id="govhub.ingest.legal_entity", run_seq=1, metadata=META)

    def other_resource() -> None:
        changes = rows(legal_entity, ["p"], tag="v2")
        entities.commit(changes, app_id="govhub.ingest.legal_entity", run_seq=2, metadata=META)

    _stall_before(monkeypatch, other_resource)
    info = people.commit(rows(person, ["b"], tag="v2"), app_id=APP, run_seq=3, metadata=META)
    assert info is not None and info.version == 2 and entities.version() == 1
    monkeypatch.undo()

    _stall_inside(monkeypatch, lake.curated(person).compact)  # the base moves on; the change table does not
    info = people.commit(rows(person, ["c"], tag="v3"), app_id=APP, run_seq=4, metadata=META)
    assert info is not None and info.version == 3 and len(people.compactions()) == 1
    assert {r["id_number"]: r["name"] for r in people.read().to_pylist()} == {
        "a": "name-v1b",
        "b": "name-v2",
        "c": "name-v3",
        "d": "name-v1",
        "e": "name-v1",
    }
    assert people.pending_rows()[0] == 1 and people.row_index_problems() == []


def test_a_failure_after_the_commit_landed_is_not_reported_as_a_refusal(
    lake: Lake, person: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table moved on by the writer's own commit (a post-commit step failed): that is no refusal, and
    the error does not claim that nothing was committed."""
    table = lake.curated(person)
    table.commit(rows(person, list("abc")), app_id=APP, run_seq=1, metadata=META)
    real = commit_module.write_deltalake

    def then_fail(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise DeltaError("post-commit hook failed")

    monkeypatch.setattr(commit_module, "write_deltalake", then_fail)
    with pytest.raises(LakeError, match="post-commit hook failed") as failed:
        table.commit(rows(person, ["d"]), app_id=APP, run_seq=2, metadata=META)
    assert not isinstance(failed.value, CommitRefused) and "Nothing was committed" not in str(failed.value)
    entry = DeltaTable(f"{table.uri}/_changes").history(1)[0]
    assert entry["govhub.run_seq"] == "2" and len(entry[COMMIT_ID_KEY]) == 32


def test_on_s3_the_conditional_put_refuses_a_stalled_commit(
    s3_lake: Lake, clean: Lake, person: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an S3-protocol store the put-if-absent is S3's conditional put (`aws_conditional_put=etag`): the
    same races, stalled inside delta-rs, are refused there too (the first load, then a change commit)."""
    stalled, other = s3_lake.curated(person), s3_lake.curated(person)
    reference = clean.curated(person)
    for seq, (theirs, ours) in enumerate(
        [
            (rows(person, list("abc")), rows(person, list("abcd"), tag="v2")),
            (rows(person, ["a", "e"], tag="v3"), rows(person, ["b"], tag="v4", deleted=[True])),
        ],
        start=1,
    ):
        _stall_inside(monkeypatch, lambda t=theirs, s=seq: other.commit(t, app_id=APP, run_seq=s, metadata=META))
        with pytest.raises(CommitRefused) as refused:
            stalled.commit(ours, app_id=APP, run_seq=seq, metadata=META)
        assert f"{APP} sequence {seq} was refused" in str(refused.value)
        monkeypatch.undo()
        reference.commit(theirs, app_id=APP, run_seq=seq, metadata=META)
        assert _readers(stalled) == _readers(reference)
