"""The reading side of a curated table: its rows at a version (merge-on-read), keys, counts, history, feed.

The state at a dataset version is the base's rows whose key has no pending change, then the last live
change per key (`_state.py`), streamed batch by batch; the change feed is `_feed.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from lake._feed import change_feed, changed_values, stat_rows
from lake._record import ROWS_TOTAL_KEY
from lake._state import OFFSET_APP, Layout, Pending, state_batches
from lake._store import delta_errors
from lake._table import TableBase
from lake.keyset import KeySet
from schemas.errors import LakeError

__all__ = ["TableReader"]


class TableReader(TableBase):
    """The reading side of a curated table."""

    def _batches(self, layout: Layout, columns: Sequence[str] | None, batch_rows: int) -> Iterator[pa.Table]:
        """The state of `layout` batch by batch, its `columns` only (default all)."""
        schema = self._state_schema(layout)
        keys = list(self.contract.primary_key)
        tombstone = self.contract.deletes == "tombstone"
        if columns is None:
            return state_batches(layout, keys, schema, tombstone=tombstone, batch_rows=batch_rows)
        # the keys decide which row of a key is current, so they are read even when not asked for
        read = pa.schema([schema.field(c) for c in dict.fromkeys([*columns, *keys])], metadata=schema.metadata)
        wanted = list(columns)
        return (
            batch.select(wanted)
            for batch in state_batches(layout, keys, read, tombstone=tombstone, batch_rows=batch_rows)
        )

    def read(self, *, version: int | None = None, columns: list[str] | None = None) -> pa.Table:
        """The table's rows at dataset `version` (default: current); an empty table before the first commit."""
        with delta_errors(self._what, self.uri, "read"):
            layout = self._layout(version)
            if layout.base is None:
                empty = self.schema.empty_table()
                return empty.select(columns) if columns else empty
            parts = list(self._batches(layout, columns, 64 * 1024))
            if parts:
                return pa.concat_tables(parts)
            schema = self._state_schema(layout)
            return schema.empty_table().select(columns) if columns else schema.empty_table()

    def keys(self) -> pa.Array:
        """The primary-key column of the current version (single-column keys)."""
        if len(self.contract.primary_key) != 1:
            raise LakeError(f"{self._what}: keys() supports single-column primary keys only")
        return self.read(columns=list(self.contract.primary_key)).column(0).combine_chunks()

    def scan(
        self, *, version: int | None = None, columns: list[str] | None = None, batch_rows: int = 64 * 1024
    ) -> Iterator[pa.RecordBatch]:
        """The table's rows at dataset `version` (default: current), batch by batch with contract types.

        The base's rows whose key has no pending change (files in the order the base version's log
        lists them), then the last live change per key (in the change table's order), so a scan of one
        version always yields the same rows in the same order; nothing beyond a few batches and the
        pending changes' keys is held in memory.
        """
        with delta_errors(self._what, self.uri, "read"):
            layout = self._layout(version)
            if layout.base is None:
                return
            for table in self._batches(layout, columns, batch_rows):
                yield from table.to_batches()

    def rows_for(self, keys: pa.Table, *, columns: list[str] | None = None) -> pa.Table:
        """The current rows (their `columns`, default all) whose primary key is one of the rows of `keys`.

        `keys` holds the primary-key columns (null keys match nothing). The table is streamed batch
        by batch and only matching rows are kept, so a few keys cost a batch of memory, not the
        table's key column (a re-check asking whether the lake holds some keys, and at what cursor).
        """
        pk = list(self.contract.primary_key)
        with delta_errors(self._what, self.uri, "read"):
            layout = self._layout(None)
            schema = self._state_schema(layout)
            wanted = list(columns or schema.names)
            read = pa.schema([schema.field(c) for c in dict.fromkeys([*wanted, *pk])], metadata=schema.metadata)
            probe = keys.select(pk).cast(pa.schema([pa.field(k, schema.field(k).type) for k in pk])).drop_null()
            if layout.base is None or not probe.num_rows:
                return read.empty_table().select(wanted)
            only = Pending.of(probe.group_by(pk, use_threads=False).aggregate([]))
            tombstone = self.contract.deletes == "tombstone"
            parts = [t.select(wanted) for t in state_batches(layout, pk, read, tombstone=tombstone, only=only)]
            return pa.concat_tables(parts) if parts else read.empty_table().select(wanted)

    def key_set(self, column: str, *, version: int | None = None) -> KeySet:
        """The values of `column` at dataset `version` (default: current) as a compact `KeySet`.

        Read one batch at a time: only 8 bytes per row are kept (what reference checks need). The
        Arrow pool's freed pages are handed back after each batch: the allocator otherwise keeps
        every row group's read buffers (≈ 4 MB a 131 Ki-row group of ID numbers), so the peak
        would grow with the table instead of staying at one batch.
        """
        with delta_errors(self._what, self.uri, "read"):
            layout = self._layout(version)
            if layout.base is None:
                return KeySet.of(pa.array([], pa.string()))
            pool = pa.default_memory_pool()

            def columns() -> Iterator[pa.ChunkedArray]:
                for table in self._batches(layout, [column], 64 * 1024):
                    yield table.column(column)
                    del table
                    pool.release_unused()

            return KeySet.from_batches(columns())

    def row_count(self) -> int:
        """Rows in the current version: recorded by the newest change commit, else the base log's statistics."""
        with delta_errors(self._what, self.uri, "read"):
            changes = self._open_changes()
            if changes is not None:
                return int(changes.history(1)[0][ROWS_TOTAL_KEY])
            dt = self._open()
            if dt is None:
                return 0
            return stat_rows(dt)

    def changes(self, *, after_version: int | None, to_version: int | None = None) -> pa.Table:
        """The changes after dataset `after_version` (exclusive) up to `to_version` (inclusive).

        One row per key and version: `insert`, `update_postimage` (tombstones: with `_deleted=true`)
        or `delete`, with `_commit_version` and `_commit_timestamp`; versions from before the change
        table come from the base's change data feed (which also has `update_preimage` rows).
        `after_version=None` returns the full snapshot at `to_version` as inserts, all stamped with
        that version, so a new subscriber starts from a consistent copy.
        """
        return change_feed(self, after_version=after_version, to_version=to_version)

    def history(self) -> list[dict[str, Any]]:
        """The dataset versions' commits, newest first (delta-rs commitInfo entries, `version` = dataset version).

        The base's own commits before the change table, then the change table's; compactions are left
        out (they change no data: see `compactions()`).
        """
        with delta_errors(self._what, self.uri, "read"):
            dt = self._open()
            if dt is None:
                return []
            changes = self._open_changes()
            if changes is None:
                return dt.history()
            offset = changes.transaction_version(OFFSET_APP) or 0
            later = [{**e, "version": offset + int(e["version"])} for e in changes.history()]
            return later + [e for e in dt.history() if int(e["version"]) < offset]

    def changed_values(
        self, columns: Sequence[str], *, after_version: int, to_version: int
    ) -> Iterator[pa.RecordBatch]:
        """`columns` of the change feed after `after_version` up to `to_version`, with `_change_type` and
        `_commit_version`, batch by batch: only those columns are read (who was touched, not what changed)."""
        return changed_values(self, columns, after_version=after_version, to_version=to_version)
