"""Row indexes of a curated table: which one a run classifies against, and when each is written.

`CuratedTable` inherits this. The base's index and the pending changes' come from the process's cache,
else from the files beside the table (`_index_file.py`), else from a scan (written for the next cold
worker). The first load writes the base's from the prints it took as its rows streamed by; a
compaction writes the new base's from the old one and the compacted changes'. `row_index_problems`
compares the files with a scan (`lake verify`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pyarrow as pa
from deltalake import DeltaTable

from lake._changes import DELETED
from lake._index import ABSENT, TOMBSTONED, IndexTap, RowIndex, cached_index, peek_index
from lake._index_file import INDEX_DIR, IndexId, index_exists, read_index, signature
from lake._row_index import base_id, columns_of, compacted_index, differences, load_or_build, pending_id, save
from lake._state import ONE_AT_A_TIME, Layout, changes_uri, conform, pending, winners
from lake._store import delta_errors
from lake._table import TableBase

__all__ = ["IndexedTable"]

log = logging.getLogger(__name__)


class IndexedTable(TableBase):
    """The row-index side of a curated table."""

    def _indexes(self, layout: Layout, schema: pa.Schema) -> tuple[RowIndex, RowIndex]:
        """The base's row index and the pending changes': from the process's cache (per base version and
        change version), else from the files beside the table, else built by a scan (and written)."""
        keys = list(self.contract.primary_key)
        values, columns = columns_of(schema, keys, DELETED)
        base = layout.base
        if base is None:
            base_index = RowIndex.build([], keys, [schema.field(k).type for k in keys], values)
        else:
            ident = base_id(base, columns)
            base_index = cached_index(
                self._base_key(base),
                base.version(),
                values,
                lambda: load_or_build(self.uri, self._options, ident, values, lambda: self._scan_base(layout, schema)),
            )
        return base_index, self._pending_index(layout, schema)

    def _pending_index(self, layout: Layout, schema: pa.Schema) -> RowIndex:
        """The pending changes' row index (cache, file, else read from the change table and written)."""
        keys = list(self.contract.primary_key)
        types = [schema.field(k).type for k in keys]
        values, columns = columns_of(schema, keys, DELETED)
        changes = layout.changes
        if changes is None or changes.version() <= layout.compacted:  # nothing pending: nothing to read
            return RowIndex.build([], keys, types, values)

        ident = pending_id(changes, changes.version(), layout.compacted, columns)
        return cached_index(
            self._pending_key(changes, layout.compacted),
            changes.version(),
            values,
            lambda: load_or_build(self.uri, self._options, ident, values, lambda: self._scan_pending(layout, schema)),
        )

    def _scan_pending(self, layout: Layout, schema: pa.Schema) -> RowIndex:
        """The pending changes' row index read from the change table (the last change per key)."""
        keys = list(self.contract.primary_key)
        types = [schema.field(k).type for k in keys]
        values, _ = columns_of(schema, keys, DELETED)
        pend = pending(layout, keys, types)
        dead = TOMBSTONED if self.contract.deletes == "tombstone" else ABSENT
        indexed = pa.schema([*(schema.field(n) for n in [*keys, *values]), pa.field(DELETED, pa.bool_())])
        tables = (conform(t, indexed) for t in winners(layout, pend, keys, schema))
        return RowIndex.build(tables, keys, types, values, deleted_state=dead)

    def row_index_problems(self) -> list[tuple[str, str]]:
        """(file, what is wrong) for each row index file of the current version that disagrees with a scan
        of the table or cannot be used; a missing file is none (the next run builds it). For `lake verify`."""
        with delta_errors(self._what, self.uri, "verified"):
            layout = self._layout()
            if layout.base is None:
                return []
            schema = self._state_schema(layout)
            values, columns = columns_of(schema, list(self.contract.primary_key), DELETED)
            checks: list[tuple[IndexId, Callable[[], RowIndex]]] = [
                (base_id(layout.base, columns), lambda: self._scan_base(layout, schema))
            ]
            changes = layout.changes
            if changes is not None and changes.version() > layout.compacted:
                ident = pending_id(changes, changes.version(), layout.compacted, columns)
                checks.append((ident, lambda: self._scan_pending(layout, schema)))
            problems = []
            for ident, scan in checks:
                if not index_exists(self.uri, self._options, ident):
                    continue
                stored = read_index(self.uri, self._options, ident, values)
                wrong = "it is torn, altered or of another table" if stored is None else differences(stored, scan())
                if wrong is not None:
                    problems.append((f"{INDEX_DIR}/{ident.name}", wrong))
            return problems

    def _scan_base(self, layout: Layout, schema: pa.Schema) -> RowIndex:
        """The base's row index built by one scan of its key and value columns."""
        base = layout.base
        assert base is not None
        keys = list(self.contract.primary_key)
        types = [schema.field(k).type for k in keys]
        values, _ = columns_of(schema, keys, DELETED)
        indexed = pa.schema([*(schema.field(n) for n in [*keys, *values]), pa.field(DELETED, pa.bool_())])
        names = set(pa.schema(base.schema().to_arrow()).names)
        columns = [c for c in [*keys, *values, DELETED] if c in names]
        wanted = pa.schema([indexed.field(c) for c in columns])
        tables = (
            conform(pa.Table.from_batches([batch]), wanted)
            for batch in base.to_pyarrow_dataset().to_batches(columns=columns, **ONE_AT_A_TIME)
        )
        return RowIndex.build(tables, keys, types, values)

    def _base_key(self, base: DeltaTable) -> str:
        """The base's cache key: its location and Delta table id (a table re-created in place is another)."""
        return f"{self.uri}#{base.metadata().id}"

    def _pending_key(self, changes: DeltaTable, compacted: int) -> str:
        """The pending changes' cache key: the change table's location and id, and the compaction point."""
        return f"{changes_uri(self.uri)}#{changes.metadata().id}@{compacted}"

    def _save_first_index(self, dt: DeltaTable, tap: IndexTap) -> None:
        """Write the base's row index from the prints the first load took (when they cover the columns,
        in the types, a later run classifies on; otherwise the first cold run builds it by a scan)."""
        if tap.fields is None:
            return
        schema = self._state_schema(Layout(dt, None, dt.version() + 1, -1))
        keys = list(self.contract.primary_key)
        _, columns = columns_of(schema, keys, DELETED)
        if columns != signature(*tap.fields):
            log.info("first load of %s: the streamed columns differ from the stored ones; no row index", self.uri)
            return
        index = tap.index()
        if index is not None:
            cached_index(self._base_key(dt), dt.version(), index.columns, lambda: index)  # this process's next run
            save(self.uri, self._options, base_id(dt, columns), index)

    def _compacted_index(self, layout: Layout, schema: pa.Schema, pending_index: RowIndex, after: DeltaTable) -> None:
        """The new base's row index after a compaction: the old base's (cache or file, never a scan) with
        the compacted changes' laid over it, cached and written beside the table. `layout.base` is still
        at the version before the compaction."""
        assert layout.base is not None
        keys = list(self.contract.primary_key)
        values, columns = columns_of(schema, keys, DELETED)
        before = layout.base
        old = peek_index(self._base_key(before), before.version(), values)
        ident = base_id(before, columns)
        if old is None and index_exists(self.uri, self._options, ident):
            old = read_index(self.uri, self._options, ident, values)
        if old is None:
            log.info("no row index of %s at base version %s: the next run builds one", self.uri, before.version())
            return
        if columns_of(self._state_schema(self._layout()), keys, DELETED)[1] != columns:
            return  # the compaction added columns: the next run builds the index over them
        index = compacted_index(old, pending_index)
        cached_index(self._base_key(after), after.version(), values, lambda: index)
        assert layout.changes is not None
        save(self.uri, self._options, base_id(after, columns), index, compacted=layout.changes.version())
