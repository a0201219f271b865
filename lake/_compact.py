"""Compaction of a curated table: the pending changes MERGEd into the base in one guarded commit.

The commit records `govhub.compacted_through` (the change-table version it includes); the change table
is never rewritten, so a compaction killed before its commit changes nothing (see `lake/README.md`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

from lake._changes import DELETED
from lake._feed import stat_rows
from lake._guard import compaction_commit
from lake._indexed import IndexedTable
from lake._merge import MergeWriter, table_source
from lake._state import COMPACTED_THROUGH_KEY, OFFSET_APP, compacted_through, conform, pending, winners
from lake._store import delta_errors
from lake._sweep import data_files, sweep
from schemas import arrow_schema

__all__ = ["CompactionInfo", "Compactor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompactionInfo:
    """One compaction: the base version it wrote and the change-table version it includes."""

    base_version: int
    compacted_through: int
    dataset_version: int
    rows: int


class Compactor(MergeWriter, IndexedTable):
    """The compaction side of a curated table."""

    def pending_rows(self) -> tuple[int, int]:
        """(change rows not yet compacted, rows in the base): what the compaction threshold compares."""
        with delta_errors(self._what, self.uri, "read"):
            layout = self._layout()
            if layout.base is None or layout.changes is None:
                return 0, 0 if layout.base is None else stat_rows(layout.base)
            rows = layout.changes.to_pyarrow_dataset().count_rows(filter=layout.pending_filter)
            return int(rows), stat_rows(layout.base)

    def compact(
        self, *, threshold: float | None = None, fence: Callable[[], None] | None = None
    ) -> CompactionInfo | None:
        """MERGE the pending changes (the last change per key) into the base in ONE commit.

        The commit records `govhub.compacted_through` (the change-table version it includes), so
        readers skip those changes; the change table is never rewritten. With `threshold`, nothing
        happens unless the pending changes exceed that share of the base's rows. A compaction killed
        before its commit leaves the state as it was; after its commit, it is done. Once its commit has
        landed it removes the base's data files listed before it that no commit references (left by a
        killed or refused write; `lake/_sweep.py`).

        `fence` (when given) is called before the compaction writes and right before the commit; it
        raises when the caller no longer holds the lock, and the compaction stops with nothing written.
        The commit lands only on the base version the compaction read (`lake/_guard.py`): when another
        writer committed to the base since, it raises `CommitRefused` and nothing is committed.
        """
        with delta_errors(self._what, self.uri, "compacted"):
            layout = self._layout()
            if layout.base is None or layout.changes is None:
                return None
            keys = list(self.contract.primary_key)
            types = [self._state_schema(layout).field(k).type for k in keys]
            pend = pending(layout, keys, types)
            if not pend.rows:
                return None
            if threshold is not None and pend.rows <= threshold * stat_rows(layout.base):
                return None
            through = layout.changes.version()
            if fence is not None:
                fence()
            # the base's data files now: those no commit references are swept once this compaction's commit has
            # landed (`lake/_sweep.py`); not before, when a displaced writer's files could still be committed
            listed = data_files(self.uri, self._options)
            schema = self._state_schema(layout)
            shaped = pa.schema(
                [*(f.with_nullable(True) for f in schema if f.name != DELETED), pa.field(DELETED, pa.bool_(), False)]
            )
            rows = pa.concat_tables([conform(t, shaped) for t in winners(layout, pend, keys, schema)])
            metadata = {COMPACTED_THROUGH_KEY: str(through), "govhub.operation": "compaction"}
            props = CommitProperties(custom_metadata=metadata)
            pending_index = self._pending_index(layout, schema)  # before the MERGE moves `layout.base` on
            base = DeltaTable(self.uri, storage_options=self._options, version=layout.base.version())
            plan = self._plan(table_source(rows), keys, arrow_schema(self.contract), has_deleted=True)
            if plan.deleted.any() and self.contract.deletes == "delete":  # a tombstone is a row: it is written
                self._drop_unknown_deletes(base, plan, keys)
            evolve = any(n not in self.schema.names for n in schema.names)
            guard = self._guard(self.uri, base, *compaction_commit(through))
            props = guard.properties(props)
            with guard.check():  # the MERGE commits on top of the base version read, or is refused
                info = self._merge(base, table_source(rows), plan, props, 0, {}, evolve=evolve, fence=fence)
                if info is None:  # the changes were already in the base: record the compaction all the same
                    if fence is not None:
                        fence()
                    write_deltalake(
                        base,  # still at the version read: the MERGE committed nothing
                        pa.schema(base.schema().to_arrow()).empty_table(),
                        mode="append",
                        storage_options=self._options,
                        commit_properties=props,
                    )
            dt = DeltaTable(self.uri, storage_options=self._options, version=guard.version)  # this commit's
            log.info("compacted %s change rows of %s into base version %s", rows.num_rows, self.uri, dt.version())
            self._compacted_index(layout, schema, pending_index, dt)
            sweep(self.uri, self._options, listed, landed=guard.version)
            return CompactionInfo(dt.version(), through, layout.offset + through, rows.num_rows)

    def compactions(self) -> list[CompactionInfo]:
        """The base commits that compacted changes, newest first."""
        with delta_errors(self._what, self.uri, "read"):
            changes = self._open_changes()
            dt = self._open()
            if changes is None or dt is None:
                return []
            offset = changes.transaction_version(OFFSET_APP) or 0
            out = []
            for entry in dt.history():
                through = compacted_through(entry)
                if through is not None:
                    metrics = entry.get("operationMetrics") or {}
                    rows = int(metrics.get("num_source_rows", 0) or 0)
                    out.append(CompactionInfo(int(entry["version"]), through, offset + through, rows))
            return out
