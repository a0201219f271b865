"""QuarantineTable: one slice per run_seq, replaced on re-run in one commit, never duplicated."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable

import lake.quarantine as quarantine_module
from lake import CommitRefused


def _rejected(n: int, reason: str = "gb11643") -> pa.Table:
    return pa.table({"id_number": [f"x{i}" for i in range(n)], "_reasons": [reason] * n})


def test_rerun_with_same_run_seq_replaces_in_one_commit(lake, person):
    q = lake.quarantine(person)
    assert q.read().num_rows == 0
    q.write(_rejected(3), run_seq=1, run_id="r-1")
    q.write(_rejected(2), run_seq=2, run_id="r-2")
    q.write(_rejected(1, "required:name"), run_seq=1, run_id="r-1-retry")
    assert q.read().num_rows == 3
    again = q.read(run_seq=1)
    assert again.column("run_id").to_pylist() == ["r-1-retry"]
    assert again.column("_reasons").to_pylist() == ["required:name"]
    assert q.read(run_seq=2).num_rows == 2
    from deltalake import DeltaTable

    assert DeltaTable(q.uri).version() == 2  # three writes, three commits


def test_rerun_with_no_rejections_clears_the_slice(lake, person):
    q = lake.quarantine(person)
    q.write(_rejected(0), run_seq=1, run_id="r-1")
    assert q.read().num_rows == 0
    q.write(_rejected(2), run_seq=1, run_id="r-1")
    q.write(_rejected(0), run_seq=1, run_id="r-1b")
    assert q.read(run_seq=1).num_rows == 0


def test_new_columns_merge_into_the_schema(lake, person):
    q = lake.quarantine(person)
    q.write(_rejected(1), run_seq=1, run_id="r-1")
    q.write(_rejected(1).append_column("_source_line", pa.array([7], pa.int64())), run_seq=2, run_id="r-2")
    assert q.read(run_seq=2).column("_source_line").to_pylist() == [7]
    assert q.read(run_seq=1).column("_source_line").to_pylist() == [None]


@pytest.mark.parametrize("existing", [False, True], ids=["creating-the-table", "replacing-a-slice"])
def test_a_slice_write_stalled_inside_delta_rs_is_refused_and_its_rerun_keeps_every_rejection(
    lake, person, monkeypatch, existing
):
    """A run displaced while inside its quarantine write (the worker that took its lock over wrote the same
    run's slice meanwhile) is refused: the slice is exactly the other worker's, never replaced by the stalled
    run's nor added to; the re-run writes its own, every rejected record kept with its reason."""
    q, other = lake.quarantine(person), lake.quarantine(person)
    if existing:
        q.write(_rejected(2, "earlier"), run_seq=1, run_id="r-1")
    real = quarantine_module.write_deltalake
    calls: list[int] = []

    def stalled(*args, **kwargs):
        if not calls:
            calls.append(1)
            other.write(_rejected(3, "theirs"), run_seq=2, run_id="r-2-takeover")
        return real(*args, **kwargs)

    monkeypatch.setattr(quarantine_module, "write_deltalake", stalled)
    with pytest.raises(CommitRefused) as refused:
        q.write(_rejected(4, "ours"), run_seq=2, run_id="r-2")
    monkeypatch.undo()
    assert calls == [1]
    message = str(refused.value)
    assert "quarantine table 'person'" in message and "run r-2 (sequence 2)" in message, message
    assert "Nothing was committed" in message and "re-run" in message, message
    theirs = q.read(run_seq=2)
    assert theirs.column("run_id").to_pylist() == ["r-2-takeover"] * 3
    assert theirs.column("_reasons").to_pylist() == ["theirs"] * 3
    assert DeltaTable(q.uri).version() == (1 if existing else 0)  # nothing of the refused write in the log

    q.write(_rejected(4, "ours"), run_seq=2, run_id="r-2-rerun")  # the re-run replaces the slice
    again = q.read(run_seq=2)
    assert again.column("run_id").to_pylist() == ["r-2-rerun"] * 4
    assert sorted(again.column("id_number").to_pylist()) == [f"x{i}" for i in range(4)]
    assert again.column("_reasons").to_pylist() == ["ours"] * 4
    assert q.read(run_seq=1).num_rows == (2 if existing else 0)


def test_a_slice_write_whose_fence_fails_writes_nothing(lake, person):
    """The fence runs after the version is read and before anything is written."""
    q = lake.quarantine(person)

    def lost() -> None:
        raise RuntimeError("lock lost")

    with pytest.raises(RuntimeError, match="lock lost"):
        q.write(_rejected(2), run_seq=1, run_id="r-1", fence=lost)
    assert q.version() is None and q.read().num_rows == 0


def test_a_rewrite_decided_on_an_older_version_is_refused(lake, person):
    """A re-check run's rewrite lands only on the version its rows were read at."""
    q = lake.quarantine(person)
    q.write(_rejected(2, "pending"), run_seq=1, run_id="r-1")
    decided_at = q.version()
    rows = q.read(version=decided_at)
    q.write(_rejected(1, "takeover"), run_seq=2, run_id="r-2")  # another worker wrote meanwhile
    with pytest.raises(CommitRefused):
        q.rewrite(rows, run_seqs={1, 2}, decided_at=decided_at)
    assert q.read(run_seq=2).column("_reasons").to_pylist() == ["takeover"]
    q.rewrite(rows, run_seqs={1, 2}, decided_at=q.version())
    assert q.read(run_seq=1).num_rows == 2 and q.read(run_seq=2).num_rows == 0
