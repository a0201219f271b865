"""Deletions pending behind other changes of the same key: every reader sees one state, before and after compaction.

The readers are the hub's `read` and `scan`, the time-travel read of each version, the change feed a
subscriber replays onto its first snapshot, a new subscriber's snapshot, the DuckDB view (when the
delta extension is installed) and the row index beside the table (`row_index_problems`, what
`govhub lake verify` reports). A tombstone keeps the key's last values with `_deleted=true`; a
deletion under `deletes: delete` removes the key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lake import Lake
from lake.curated import CuratedTable
from lake.views import view_sql

META = {"run_id": "r"}
State = dict[str, dict[str, Any]]


def _rows_by_key(table: pa.Table, key: str) -> State:
    return {r[key]: r for r in table.to_pylist()}


def _replayed(table: CuratedTable) -> State:
    """What a subscriber holds: the first version's snapshot with every later change applied in order."""
    key = table.contract.primary_key[0]
    history = [int(e["version"]) for e in table.history()]
    first = min(history)
    state = {k: _data(r) for k, r in _rows_by_key(table.changes(after_version=None, to_version=first), key).items()}
    feed = table.changes(after_version=first).to_pylist()
    for row in sorted(feed, key=lambda r: r["_commit_version"]):
        if row["_change_type"] == "delete":
            state.pop(row[key], None)
        elif row["_change_type"] in ("insert", "update_postimage"):
            state[row[key]] = _data(row)
    return state


def _data(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("_change_type", "_commit_version", "_commit_timestamp")}


def _duckdb() -> Any:
    duckdb = pytest.importorskip("duckdb")
    extension = pytest.importorskip("duckdb_extension_delta")
    path = next(Path(extension.__file__).parent.glob("extensions/*/delta.duckdb_extension"), None)
    if path is None:
        pytest.skip("the duckdb delta extension has no binary for this platform")
    con = duckdb.connect()
    con.execute(f"LOAD '{path}'")
    return con


class Readers:
    """Every way the state of one table is read, compared at each step; views generated along the way are kept."""

    def __init__(self, table: CuratedTable, con: Any) -> None:
        self.table, self.con = table, con
        self.views: list[str] = []
        self.key = table.contract.primary_key[0]

    def agree(self, step: str) -> State:
        """Assert every reader shows the hub's current state at `step`; return it."""
        t, key = self.table, self.key
        state = _rows_by_key(t.read(), key)
        assert _rows_by_key(pa.Table.from_batches(list(t.scan())), key) == state, step
        assert _rows_by_key(t.read(version=t.version()), key) == state, step
        snapshot = {k: _data(r) for k, r in _rows_by_key(t.changes(after_version=None), key).items()}
        assert snapshot == state, step
        assert _replayed(t) == state, step
        assert t.row_count() == len(state), step
        assert t.row_index_problems() == [], step
        view = f"v{len(self.views)}"
        self.views.append(view)
        self.con.execute(view_sql(t, name=view))
        for name in self.views:  # views generated at earlier steps stay right
            seen = self.con.execute(f"SELECT * FROM {name}").fetch_arrow_table()
            assert _rows_by_key(seen, key) == state, (step, name)
        return state

    def versions(self) -> dict[int, State]:
        return {v: _rows_by_key(self.table.read(version=v), self.key) for v in range(self.table.version() + 1)}


@pytest.fixture
def con() -> Any:
    return _duckdb()


def _commit(t: CuratedTable, rows: pa.Table, seq: int) -> None:
    assert t.commit(rows, app_id="x", run_seq=seq, metadata=META) is not None


def _compacted(t: CuratedTable, readers: Readers, step: str) -> State:
    """Compact, and check the state and every version read the same as before."""
    before, versions = readers.agree(f"{step}: pending"), readers.versions()
    assert t.compact() is not None
    assert t.pending_rows()[0] == 0
    after = readers.agree(f"{step}: compacted")
    assert after == before
    assert readers.versions() == versions, step
    return after


Maker = Callable[..., pa.Table]


def test_a_tombstone_after_an_update_in_an_earlier_pending_run_keeps_the_updated_values(
    lake: Lake, legal_entity, rows: Maker, con
):
    t = lake.curated(legal_entity)
    readers = Readers(t, con)
    _commit(t, rows(legal_entity, ["k", "m"]), 1)
    _commit(t, rows(legal_entity, ["k"], tag="updated"), 2)
    _commit(t, rows(legal_entity, ["k"], tag="from-source", deleted=[True]), 3)
    state = _compacted(t, readers, "update then tombstone")
    assert state["k"]["_deleted"] is True
    assert state["k"]["name"] == "name-updated"  # the last known values, not the first load's nor the source's
    assert state["m"]["_deleted"] is False and state["m"]["name"] == "name-v1"


def test_an_update_then_a_tombstone_within_one_run(lake: Lake, legal_entity, rows: Maker, con):
    t = lake.curated(legal_entity)
    readers = Readers(t, con)
    _commit(t, rows(legal_entity, ["k", "m"]), 1)
    both = pa.concat_tables(
        [rows(legal_entity, ["k"], tag="updated", deleted=[False]), rows(legal_entity, ["k"], deleted=[True])]
    )
    _commit(t, both, 2)  # the last occurrence wins: a tombstone of the stored (first load's) values
    state = _compacted(t, readers, "one run")
    assert state["k"]["_deleted"] is True and state["k"]["name"] == "name-v1"


def test_a_tombstone_then_a_reinsert_then_a_tombstone_again(lake: Lake, legal_entity, rows: Maker, con):
    t = lake.curated(legal_entity)
    readers = Readers(t, con)
    _commit(t, rows(legal_entity, ["k", "m"]), 1)
    _commit(t, rows(legal_entity, ["k"], deleted=[True]), 2)
    _commit(t, rows(legal_entity, ["k"], tag="back"), 3)
    state = _compacted(t, readers, "tombstone, re-insert")
    assert state["k"]["_deleted"] is False and state["k"]["name"] == "name-back"
    _commit(t, rows(legal_entity, ["k"], tag="again"), 4)
    _commit(t, rows(legal_entity, ["k"], tag="source", deleted=[True]), 5)
    state = _compacted(t, readers, "update, tombstone after a compaction")
    assert state["k"]["_deleted"] is True and state["k"]["name"] == "name-again"


def test_a_revived_key_tombstoned_again_before_compaction_over_a_tombstoned_base(
    lake: Lake, legal_entity, rows: Maker, con
):
    t = lake.curated(legal_entity)
    readers = Readers(t, con)
    _commit(t, rows(legal_entity, ["k", "m"]), 1)
    _commit(t, rows(legal_entity, ["k"], deleted=[True]), 2)
    _compacted(t, readers, "tombstone")
    _commit(t, rows(legal_entity, ["k"], tag="revived"), 3)
    _commit(t, rows(legal_entity, ["k"], deleted=[True]), 4)
    state = _compacted(t, readers, "revive, tombstone over a tombstoned base")
    assert state["k"]["_deleted"] is True and state["k"]["name"] == "name-revived"


def test_an_update_and_a_tombstone_across_two_compactions(lake: Lake, legal_entity, rows: Maker, con):
    t = lake.curated(legal_entity)
    readers = Readers(t, con)
    _commit(t, rows(legal_entity, ["k", "m"]), 1)
    _commit(t, rows(legal_entity, ["k"], tag="updated"), 2)
    assert _compacted(t, readers, "update")["k"]["name"] == "name-updated"
    _commit(t, rows(legal_entity, ["k"], tag="source", deleted=[True]), 3)
    state = _compacted(t, readers, "tombstone")
    assert state["k"]["_deleted"] is True and state["k"]["name"] == "name-updated"
    _commit(t, rows(legal_entity, ["m"], tag="later"), 4)  # the next run classifies against the compacted index
    assert readers.agree("after")["k"]["name"] == "name-updated"


@pytest.mark.parametrize(
    "runs, left, k_name",
    [
        ([(["k"], "updated", [False]), (["k"], "source", [True])], ["m"], None),  # update, then delete
        ([(["k"], "v1", [True]), (["k"], "back", [False])], ["k", "m"], "name-back"),  # delete, then insert again
        ([(["k", "k"], "updated", [False, True])], ["m"], None),  # update then delete within one run
        ([(["n"], "new", [False]), (["n"], "new", [True])], ["k", "m"], "name-v1"),  # born and gone while pending
    ],
)
def test_deletions_under_the_delete_contract(lake: Lake, person, rows: Maker, con, runs, left, k_name):
    t = lake.curated(person)
    readers = Readers(t, con)
    _commit(t, rows(person, ["k", "m"]), 1)
    for seq, (keys, tag, deleted) in enumerate(runs, start=2):
        _commit(t, rows(person, keys, tag=tag, deleted=deleted), seq)
    state = _compacted(t, readers, "delete contract")
    assert sorted(state) == left
    assert state.get("k", {}).get("name") == k_name


def test_a_key_inserted_and_tombstoned_while_pending_stays_a_tombstone(lake: Lake, legal_entity, rows: Maker, con):
    t = lake.curated(legal_entity)
    readers = Readers(t, con)
    _commit(t, rows(legal_entity, ["k", "m"]), 1)
    _commit(t, rows(legal_entity, ["n"], tag="new"), 2)
    _commit(t, rows(legal_entity, ["n"], tag="source", deleted=[True]), 3)
    state = _compacted(t, readers, "insert, tombstone")
    assert sorted(state) == ["k", "m", "n"]
    assert state["n"]["_deleted"] is True and state["n"]["name"] == "name-new"
