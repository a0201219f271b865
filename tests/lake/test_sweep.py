"""Leftover data files are removed only after the remover's own commit landed, and only those listed before it.

A displaced writer (stalled past its lease, its data files written, its commit not issued yet) is played by
writing its Parquet file into the table folder and later issuing its commit, guarded like every govhub
commit (on the version it read, no retry). Removing that file before a commit of the table landed breaks
the table when the displaced commit lands after all; removing it after one landed is safe, because the
guard then refuses the displaced commit. Files written after the remover listed the folder (a successor's
in flight) are never removed; a refused or killed write's files in the change table are removed by the next
commit to it.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import DeltaError
from deltalake.transaction import AddAction

import lake._commit as commit_module
from lake import CommitRefused, CuratedTable, Lake, commit_manifest, verify_files
from lake._compact import Compactor
from lake._state import changes_uri
from lake._sweep import data_files

APP = "govhub.ingest.person"
META = {"govhub.run_id": "r"}


def _table(lake: Lake, person: Any, rows: Any) -> tuple[CuratedTable, dict[int, dict[str, Any]]]:
    """A person table: a first load, then a run of changes pending compaction (manifests kept)."""
    table = lake.curated(person)
    manifests = {}
    for seq, changes in enumerate(
        [rows(person, list("abcdef")), rows(person, ["b", "c", "g"], tag="v1", deleted=[False, True, False])], start=1
    ):
        info = table.commit(changes, app_id=APP, run_seq=seq, metadata=META)
        assert info is not None
        manifests[info.version] = commit_manifest(table, info.version)
    return table, manifests


class Displaced:
    """A writer of the base displaced while its commit was in flight: its data file is written, its commit (a
    rewrite of the base's rows, decided on the version it read) is issued later, with no retry."""

    def __init__(self, table: CuratedTable) -> None:
        self.read_at = DeltaTable(table.uri)
        self.rows = self.read_at.to_pyarrow_table()
        self.rel = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
        self.path = Path(table.uri) / self.rel
        pq.write_table(self.rows, self.path)
        self.size = self.path.stat().st_size

    def commit(self) -> None:
        """Issue the displaced commit on the version read."""
        add = AddAction(self.rel, self.size, {}, int(time.time() * 1000), True, "{}")
        self.read_at.create_write_transaction(
            [add],
            mode="overwrite",
            schema=self.rows.schema,
            commit_properties=CommitProperties(max_commit_retries=0),
        )


def test_a_compaction_killed_before_its_commit_leaves_a_displaced_writers_files(
    lake: Lake, person: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, _ = _table(lake, person, rows)
    displaced = Displaced(table)

    def killed(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed before its commit")

    monkeypatch.setattr(Compactor, "_merge", killed)
    with pytest.raises(RuntimeError, match="killed"):
        table.compact()
    monkeypatch.undo()
    assert displaced.path.exists()  # in flight when the compaction ran: not removed
    displaced.commit()  # the base did not move: the displaced commit lands
    assert DeltaTable(table.uri).to_pyarrow_table().sort_by("id_number").equals(displaced.rows.sort_by("id_number"))
    assert table.compact() is not None  # and the table compacts on top of it
    assert table.row_index_problems() == []


def test_a_landed_compaction_removes_a_displaced_writers_files_and_the_guard_refuses_its_commit(
    lake: Lake, person: Any, rows: Any
) -> None:
    table, manifests = _table(lake, person, rows)
    expected = table.read().sort_by("id_number")
    displaced = Displaced(table)
    assert not verify_files(table, manifests).ok  # the displaced file is unexpected meanwhile
    info = table.compact()
    assert info is not None and not displaced.path.exists()
    with pytest.raises(DeltaError):  # its version is the compaction's now
        displaced.commit()
    assert table.read().sort_by("id_number").equals(expected)
    assert [c.base_version for c in table.compactions()] == [info.base_version]


def test_files_written_after_the_compaction_listed_the_base_are_kept(
    lake: Lake, person: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, _ = _table(lake, person, rows)
    real = Compactor._merge
    late: list[Path] = []

    def merge(self: Compactor, *args: Any, **kwargs: Any) -> Any:  # a successor's file, written meanwhile
        late.append(Displaced(table).path)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Compactor, "_merge", merge)
    assert table.compact() is not None
    assert late and late[0].exists()  # listed by no one before the commit: maybe still to be committed


def test_a_refused_change_commits_files_are_removed_by_the_next_commit_to_the_change_table(
    lake: Lake, person: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, manifests = _table(lake, person, rows)
    other = lake.curated(person)
    theirs = rows(person, ["a", "h"], tag="v2")
    real = commit_module.write_deltalake
    calls: list[int] = []

    def stalled(*args: Any, **kwargs: Any) -> None:  # the other worker commits while this one is inside delta-rs
        if not calls:
            calls.append(1)
            info = other.commit(theirs, app_id=APP, run_seq=3, metadata=META)
            assert info is not None
            manifests[info.version] = commit_manifest(other, info.version)
        real(*args, **kwargs)

    monkeypatch.setattr(commit_module, "write_deltalake", stalled)
    with pytest.raises(CommitRefused):
        table.commit(rows(person, ["d", "i"], tag="v3"), app_id=APP, run_seq=3, metadata=META)
    monkeypatch.undo()
    change_dir = Path(changes_uri(table.uri))
    listed = data_files(changes_uri(table.uri), {})
    live = {p for p in DeltaTable(changes_uri(table.uri)).file_uris()}
    leftovers = {rel for rel in listed if str(change_dir / rel) not in live}
    assert leftovers, "the refused commit wrote its data file"
    report = verify_files(table, manifests)
    assert [p.kind for p in report.problems] == ["unexpected"] * len(leftovers)

    info = table.commit(rows(person, ["d", "i"], tag="v3"), app_id=APP, run_seq=4, metadata=META)  # the re-run
    assert info is not None
    manifests[info.version] = commit_manifest(table, info.version)
    assert not any((change_dir / rel).exists() for rel in leftovers)
    assert verify_files(table, manifests).ok


def test_a_killed_change_writes_files_are_removed_but_not_files_written_during_the_commit(
    lake: Lake, person: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, _ = _table(lake, person, rows)
    change_dir = Path(changes_uri(table.uri))
    killed = change_dir / f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"  # a write killed before its commit
    pq.write_table(pa.table({"id_number": ["z"]}), killed)
    real = commit_module.write_deltalake
    late = change_dir / f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"

    def writing(*args: Any, **kwargs: Any) -> None:  # a successor's file in flight, after the listing
        pq.write_table(pa.table({"id_number": ["y"]}), late)
        real(*args, **kwargs)

    monkeypatch.setattr(commit_module, "write_deltalake", writing)
    assert table.commit(rows(person, ["a"], tag="v4"), app_id=APP, run_seq=3, metadata=META) is not None
    assert not killed.exists() and late.exists()


def test_a_first_load_removes_a_killed_first_loads_files(lake: Lake, person: Any, rows: Any) -> None:
    table = lake.curated(person)
    Path(table.uri).mkdir(parents=True)
    killed = Path(table.uri) / f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    pq.write_table(rows(person, list("xyz")), killed)
    info = table.commit(rows(person, list("abc")), app_id=APP, run_seq=1, metadata=META)
    assert info is not None and not killed.exists()
    assert verify_files(table, {info.version: commit_manifest(table, info.version)}).ok
