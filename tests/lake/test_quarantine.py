"""QuarantineTable: one slice per run_seq, replaced on re-run in one commit, never duplicated."""

from __future__ import annotations

import pyarrow as pa


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
