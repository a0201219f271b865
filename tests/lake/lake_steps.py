"""Steps the lake tests repeat: write a table run by run, compact it, read it back through every reader.

`Runs` writes one curated table as app "x" (run_seq 1, 2, … as the runs come, every commit with
META); `ReadRuns` also checks, at any step, that every reader of the table shows the same state:
the hub's `read` and `scan`, the time-travel read of the current version, the change feed a
subscriber replays onto its first snapshot, a new subscriber's snapshot, the row count, the row
index beside the table (`row_index_problems`) and the DuckDB views generated so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lake.curated import CommitInfo, CuratedTable
from lake.views import view_sql

META = {"run_id": "r"}
State = dict[str, dict[str, Any]]
RowFactory = Callable[..., pa.Table]


def duckdb_with_delta() -> Any:
    """A DuckDB connection with the delta extension loaded; skips the test when it is not installed."""
    duckdb = pytest.importorskip("duckdb")
    extension = pytest.importorskip("duckdb_extension_delta")
    path = next(Path(extension.__file__).parent.glob("extensions/*/delta.duckdb_extension"), None)
    if path is None:
        pytest.skip("the duckdb delta extension has no binary for this platform")
    con = duckdb.connect()
    con.execute(f"LOAD '{path}'")
    return con


class Runs:
    """One curated table written run by run as app "x": run_seq counts up from 1, every commit with META."""

    def __init__(self, table: CuratedTable, rows: RowFactory) -> None:
        self.table, self.rows = table, rows
        self.seq = 0  # the last run_seq committed (set it when a run is committed elsewhere)

    def commit(self, data: pa.Table, **kwargs: Any) -> CommitInfo | None:
        """Commit `data` as the next run (`kwargs` go to `CuratedTable.commit`, e.g. `evolve`)."""
        self.seq += 1
        return self.table.commit(data, app_id="x", run_seq=self.seq, metadata=META, **kwargs)

    def run(
        self, keys: Sequence[str], *, tag: str = "v1", deleted: Sequence[bool] | None = None, **kwargs: Any
    ) -> CommitInfo | None:
        """Commit the rows of `keys` (values by `tag`, `_deleted` flags if given) as the next run."""
        return self.commit(self.rows(self.table.contract, keys, tag=tag, deleted=deleted), **kwargs)


def rows_by_key(table: pa.Table, key: str) -> State:
    return {r[key]: r for r in table.to_pylist()}


def _data(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("_change_type", "_commit_version", "_commit_timestamp")}


def replayed(table: CuratedTable) -> State:
    """What a subscriber holds: the first version's snapshot with every later change applied in order."""
    key = table.contract.primary_key[0]
    history = [int(e["version"]) for e in table.history()]
    first = min(history)
    state = {k: _data(r) for k, r in rows_by_key(table.changes(after_version=None, to_version=first), key).items()}
    feed = table.changes(after_version=first).to_pylist()
    for row in sorted(feed, key=lambda r: r["_commit_version"]):
        if row["_change_type"] == "delete":
            state.pop(row[key], None)
        elif row["_change_type"] in ("insert", "update_postimage"):
            state[row[key]] = _data(row)
    return state


class ReadRuns(Runs):
    """Runs that must each commit, with every reader compared at each step; views generated along the way are kept."""

    def __init__(self, table: CuratedTable, rows: RowFactory, con: Any) -> None:
        super().__init__(table, rows)
        self.con = con
        self.views: list[str] = []
        self.key = table.contract.primary_key[0]

    def commit(self, data: pa.Table, **kwargs: Any) -> CommitInfo:
        info = super().commit(data, **kwargs)
        assert info is not None
        return info

    def agree(self, step: str) -> State:
        """Assert every reader shows the hub's current state at `step`; return it."""
        t, key = self.table, self.key
        state = rows_by_key(t.read(), key)
        assert rows_by_key(pa.Table.from_batches(list(t.scan())), key) == state, step
        assert rows_by_key(t.read(version=t.version()), key) == state, step
        snapshot = {k: _data(r) for k, r in rows_by_key(t.changes(after_version=None), key).items()}
        assert snapshot == state, step
        assert replayed(t) == state, step
        assert t.row_count() == len(state), step
        assert t.row_index_problems() == [], step
        view = f"v{len(self.views)}"
        self.views.append(view)
        self.con.execute(view_sql(t, name=view))
        for name in self.views:  # views generated at earlier steps stay right
            seen = self.con.execute(f"SELECT * FROM {name}").fetch_arrow_table()
            assert rows_by_key(seen, key) == state, (step, name)
        return state

    def versions(self) -> dict[int, State]:
        """Every version of the table as a time-travel read shows it."""
        return {v: rows_by_key(self.table.read(version=v), self.key) for v in range(self.table.version() + 1)}

    def compacted(self, step: str) -> State:
        """Compact, and check the state and every version read the same as before."""
        before, versions = self.agree(f"{step}: pending"), self.versions()
        assert self.table.compact() is not None
        assert self.table.pending_rows()[0] == 0
        after = self.agree(f"{step}: compacted")
        assert after == before
        assert self.versions() == versions, step
        return after
