"""Deletions pending behind other changes of the same key: every reader sees one state, before and after compaction.

The readers are the hub's `read` and `scan`, the time-travel read of each version, the change feed a
subscriber replays onto its first snapshot, a new subscriber's snapshot, the DuckDB view (when the
delta extension is installed) and the row index beside the table (`row_index_problems`, what
`govhub lake verify` reports): `lake_steps.ReadRuns` compares them at every step. A tombstone keeps
the key's last values with `_deleted=true`; a deletion under `deletes: delete` removes the key.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from lake_steps import ReadRuns, RowFactory, duckdb_with_delta

from lake import Lake
from schemas import Contract


@pytest.fixture
def con() -> Any:
    return duckdb_with_delta()


def _loaded(lake: Lake, contract: Contract, rows: RowFactory, con: Any) -> ReadRuns:
    """The table of `contract` with keys k and m loaded (run 1), every reader watched."""
    t = ReadRuns(lake.curated(contract), rows, con)
    t.run(["k", "m"])
    return t


def test_a_tombstone_after_an_update_in_an_earlier_pending_run_keeps_the_updated_values(
    lake: Lake, legal_entity, rows: RowFactory, con
):
    t = _loaded(lake, legal_entity, rows, con)
    t.run(["k"], tag="updated")
    t.run(["k"], tag="from-source", deleted=[True])
    state = t.compacted("update then tombstone")
    assert state["k"]["_deleted"] is True
    assert state["k"]["name"] == "name-updated"  # the last known values, not the first load's nor the source's
    assert state["m"]["_deleted"] is False and state["m"]["name"] == "name-v1"


def test_an_update_then_a_tombstone_within_one_run(lake: Lake, legal_entity, rows: RowFactory, con):
    t = _loaded(lake, legal_entity, rows, con)
    both = pa.concat_tables(
        [rows(legal_entity, ["k"], tag="updated", deleted=[False]), rows(legal_entity, ["k"], deleted=[True])]
    )
    t.commit(both)  # the last occurrence wins: a tombstone of the stored (first load's) values
    state = t.compacted("one run")
    assert state["k"]["_deleted"] is True and state["k"]["name"] == "name-v1"


def test_a_tombstone_then_a_reinsert_then_a_tombstone_again(lake: Lake, legal_entity, rows: RowFactory, con):
    t = _loaded(lake, legal_entity, rows, con)
    t.run(["k"], deleted=[True])
    t.run(["k"], tag="back")
    state = t.compacted("tombstone, re-insert")
    assert state["k"]["_deleted"] is False and state["k"]["name"] == "name-back"
    t.run(["k"], tag="again")
    t.run(["k"], tag="source", deleted=[True])
    state = t.compacted("update, tombstone after a compaction")
    assert state["k"]["_deleted"] is True and state["k"]["name"] == "name-again"


def test_a_revived_key_tombstoned_again_before_compaction_over_a_tombstoned_base(
    lake: Lake, legal_entity, rows: RowFactory, con
):
    t = _loaded(lake, legal_entity, rows, con)
    t.run(["k"], deleted=[True])
    t.compacted("tombstone")
    t.run(["k"], tag="revived")
    t.run(["k"], deleted=[True])
    state = t.compacted("revive, tombstone over a tombstoned base")
    assert state["k"]["_deleted"] is True and state["k"]["name"] == "name-revived"


def test_an_update_and_a_tombstone_across_two_compactions(lake: Lake, legal_entity, rows: RowFactory, con):
    t = _loaded(lake, legal_entity, rows, con)
    t.run(["k"], tag="updated")
    assert t.compacted("update")["k"]["name"] == "name-updated"
    t.run(["k"], tag="source", deleted=[True])
    state = t.compacted("tombstone")
    assert state["k"]["_deleted"] is True and state["k"]["name"] == "name-updated"
    t.run(["m"], tag="later")  # the next run classifies against the compacted index
    assert t.agree("after")["k"]["name"] == "name-updated"


@pytest.mark.parametrize(
    "runs, left, k_name",
    [
        ([(["k"], "updated", [False]), (["k"], "source", [True])], ["m"], None),  # update, then delete
        ([(["k"], "v1", [True]), (["k"], "back", [False])], ["k", "m"], "name-back"),  # delete, then insert again
        ([(["k", "k"], "updated", [False, True])], ["m"], None),  # update then delete within one run
        ([(["n"], "new", [False]), (["n"], "new", [True])], ["k", "m"], "name-v1"),  # born and gone while pending
    ],
)
def test_deletions_under_the_delete_contract(lake: Lake, person, rows: RowFactory, con, runs, left, k_name):
    t = _loaded(lake, person, rows, con)
    for keys, tag, deleted in runs:
        t.run(keys, tag=tag, deleted=deleted)
    state = t.compacted("delete contract")
    assert sorted(state) == left
    assert state.get("k", {}).get("name") == k_name


def test_a_key_inserted_and_tombstoned_while_pending_stays_a_tombstone(lake: Lake, legal_entity, rows: RowFactory, con):
    t = _loaded(lake, legal_entity, rows, con)
    t.run(["n"], tag="new")
    t.run(["n"], tag="source", deleted=[True])
    state = t.compacted("insert, tombstone")
    assert sorted(state) == ["k", "m", "n"]
    assert state["n"]["_deleted"] is True and state["n"]["name"] == "name-new"
