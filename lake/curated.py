"""Curated Delta tables: one per resource, a base plus an append-only change table (merge-on-read).

The first load appends to the base; every later run appends its net changes to `_changes` in one
commit; the state is read as the base plus the last change per key; `compact()` MERGEs the pending
changes into the base (see `lake/README.md`, "Merge-on-read").
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake

from lake._append import decide
from lake._changes import DELETED, shape_changes
from lake._feed import change_feed, changed_values, normalise, stat_rows
from lake._guard import CommitRefused, Guard, compaction_commit, run_commit
from lake._index import IndexTap, cached_index
from lake._indexed import IndexedTable
from lake._merge import (
    APP_ID_KEY,
    METADATA_KEYS_KEY,
    ROW_GROUP_ROWS,
    RUN_SEQ_KEY,
    ChangeSource,
    CommitInfo,
    MergeWriter,
    _Plan,
    _table_source,
    _ts,
)
from lake._row_index import columns_of, pending_id, save
from lake._state import (
    COMMIT_VERSION,
    COMPACTED_THROUGH_KEY,
    OFFSET_APP,
    RUN_SEQ,
    SYSTEM_COLUMNS,
    Layout,
    Pending,
    changes_uri,
    compacted_through,
    conform,
    pending,
    resolve,
    state_batches,
    winners,
)
from lake._store import delta_errors, open_table
from lake._writer import writer_properties
from lake.keyset import KeySet
from schemas import Contract, arrow_schema
from schemas.errors import LakeError

__all__ = ["ChangeSource", "CommitInfo", "CommitRefused", "CompactionInfo", "CuratedTable"]

log = logging.getLogger(__name__)

ROWS_TOTAL_KEY = "govhub.rows_total"
COUNT_KEYS = ("govhub.rows_inserted", "govhub.rows_updated", "govhub.rows_deleted")
DATASET_VERSION_KEY = "govhub.dataset_version"
TABLE_CONFIGURATION = {"delta.enableChangeDataFeed": "true"}


@dataclass(frozen=True)
class CompactionInfo:
    """One compaction: the base version it wrote and the change-table version it includes."""

    base_version: int
    compacted_through: int
    dataset_version: int
    rows: int


class CuratedTable(MergeWriter, IndexedTable):
    """The curated Delta table of one resource at `<root>/curated/<resource>`.

    The table has the contract's Arrow schema (labels kept as field metadata, NOT NULL where the
    contract says `required`), the change data feed on, and for `deletes: tombstone` an extra
    non-null `_deleted` column.
    """

    def __init__(self, uri: str, contract: Contract, *, storage_options: Mapping[str, str] | None = None) -> None:
        self.uri = uri
        self.contract = contract
        self._options = dict(storage_options or {})
        self._what = f"curated table '{contract.resource}'"
        schema = arrow_schema(contract)
        if contract.deletes == "tombstone":
            schema = schema.append(pa.field(DELETED, pa.bool_(), nullable=False))
        self.schema = schema
        self._target_file_size: int | None = None  # first-load file size (bytes); bench/tuning only

    @property
    def storage_options(self) -> dict[str, str]:
        """The delta-rs storage options the table is opened with (empty for a local folder)."""
        return dict(self._options)

    # -- state -------------------------------------------------------------------------------
    def _open(self) -> DeltaTable | None:
        return open_table(self.uri, self._options, self._what)

    def _open_changes(self) -> DeltaTable | None:
        return open_table(changes_uri(self.uri), self._options, f"{self._what} (change table)")

    def _layout(self, version: int | None = None) -> Layout:
        return resolve(self.uri, self._options, self._what, version)

    def exists(self) -> bool:
        """True once the first commit has created the table."""
        return self._open() is not None

    def version(self) -> int | None:
        """The current dataset version, or None before the first commit."""
        with delta_errors(self._what, self.uri, "read"):
            return self._layout().version

    def locate(self, version: int) -> tuple[str, int]:
        """Where dataset `version` was committed: ("", base version) or ("_changes", change-table version)."""
        changes = self._open_changes()
        offset = None if changes is None else changes.transaction_version(OFFSET_APP)
        if offset is None or version < offset:
            return "", version
        return "_changes", version - offset

    # -- writing -----------------------------------------------------------------------------
    def commit(
        self,
        changes: pa.Table | pa.RecordBatchReader | ChangeSource,
        *,
        app_id: str,
        run_seq: int,
        metadata: Mapping[str, str],
        evolve: bool = False,
        fence: Callable[[], None] | None = None,
    ) -> CommitInfo | None:
        """Commit a run's accepted changes in ONE atomic commit: the first load appends to the base; every
        later run appends its net changes (one row per key: `_change_type`, `_deleted`, the dataset
        version, the run's sequence) to the change table (merge-on-read: no base file is rewritten).

        `changes` holds the contract's columns plus an optional `_deleted` flag: a table, a reader
        (read into memory once), or a `ChangeSource` — a function opening a fresh reader of the
        changes (of some columns only when asked), which is streamed: a first pass reads only the
        key and `_deleted` columns, the second streams the rows into the first load (memory flat) or
        collects a later run's kept rows (the change) to classify them. Within `changes` a key
        appearing several times keeps only its LAST occurrence. Rows identical to the stored row and
        deletes of unknown keys change nothing; when nothing changes no commit is made and None is
        returned. The commit carries `metadata`, `govhub.run_seq` and the app transaction (app_id, run_seq), so
        `last_commit(app_id)` recognises it after a crash. `fence` (when given) is called right before delta-rs
        writes and commits; raising there (the caller lost its lock) leaves the table untouched. The commit
        itself lands only on the table version it was decided against (`lake/_guard.py`): when another writer
        committed since, it raises `CommitRefused` and nothing is committed.
        """
        if isinstance(changes, pa.RecordBatchReader):
            changes = changes.read_all()
        source = _table_source(changes) if isinstance(changes, pa.Table) else changes
        keys = list(self.contract.primary_key)
        contract_schema = arrow_schema(self.contract)
        with source(None) as probe:  # column checks before any data is read
            shape_changes(probe.schema.empty_table(), contract_schema, evolve=evolve, table=self._what)
            has_deleted = DELETED in probe.schema.names
        plan = self._plan(source, keys, contract_schema, has_deleted=has_deleted)
        if plan.rows == 0:
            return None
        props = self._commit_properties(app_id, run_seq, metadata)
        with delta_errors(self._what, self.uri, "written"):
            layout = self._layout()
            if layout.changes is None and (layout.base is None or not layout.base.file_uris()):
                guard = self._guard(self.uri, layout.base, *run_commit(app_id, run_seq))
                return self._first_load(
                    source, plan, props, run_seq, metadata, evolve=evolve, fence=fence, base=layout.base, guard=guard
                )
            return self._append(layout, source, plan, app_id, run_seq, metadata, evolve=evolve, fence=fence)

    def _state_schema(self, layout: Layout) -> pa.Schema:
        """The columns of the state: the base's (contract types) and any the change table added."""
        schema = self.schema
        if layout.base is not None:
            schema = normalise(pa.schema(layout.base.schema().to_arrow()).empty_table(), self.schema).schema
        if layout.changes is not None:
            stored = normalise(pa.schema(layout.changes.schema().to_arrow()).empty_table(), self.schema).schema
            extra = [
                f.with_nullable(True) for f in stored if f.name not in schema.names and f.name not in SYSTEM_COLUMNS
            ]
            schema = pa.schema([*schema, *extra], metadata=schema.metadata)
        return schema

    def _guard(self, uri: str, table: DeltaTable | None, commit: str, redo: str) -> Guard:
        """The guard of a commit to `uri` decided against `table` (None: no table there yet)."""
        what = self._what if uri == self.uri else f"{self._what} (change table)"
        return Guard(what, uri, self._options, None if table is None else table.version(), commit, redo)

    def _append(
        self,
        layout: Layout,
        source: ChangeSource,
        plan: _Plan,
        app_id: str,
        run_seq: int,
        metadata: Mapping[str, str],
        *,
        evolve: bool,
        fence: Callable[[], None] | None = None,
    ) -> CommitInfo | None:
        """Append the run's net changes to the change table in ONE commit (merge-on-read)."""
        keys = list(self.contract.primary_key)
        contract_schema = arrow_schema(self.contract)
        incoming = pa.Table.from_batches(
            list(self._stream(source, plan, contract_schema, evolve=evolve, live_only=False))
        )
        schema = self._state_schema(layout)
        types = [schema.field(k).type for k in keys]
        base_index, pending_index = self._indexes(layout, schema)
        tombstone = self.contract.deletes == "tombstone"

        def lookup(probe: pa.Table) -> pa.Table:
            only = Pending.of(probe.cast(pa.schema([pa.field(k, t) for k, t in zip(keys, types, strict=True)])))
            parts = list(state_batches(layout, keys, schema, tombstone=tombstone, only=only))
            return pa.concat_tables(parts) if parts else schema.empty_table()

        decision = decide(
            incoming, keys=keys, types=types, tombstone=tombstone, base=base_index, pending=pending_index, lookup=lookup
        )
        if decision.rows.num_rows == 0:
            log.info("changes for %s equal the stored rows; no commit", self.uri)
            return None
        offset = layout.offset
        change_version = 0 if layout.changes is None else layout.changes.version() + 1
        version = offset + change_version
        n = decision.rows.num_rows
        rows = decision.rows.append_column(COMMIT_VERSION, pa.array(np.full(n, version, dtype=np.int64)))
        rows = rows.append_column(RUN_SEQ, pa.array(np.full(n, run_seq, dtype=np.int64)))
        if layout.changes is None:
            before = 0 if layout.base is None else stat_rows(layout.base)
        else:
            before = int(layout.changes.history(1)[0][ROWS_TOTAL_KEY])
        total = before + decision.inserted - decision.deleted
        custom = self._custom_metadata(app_id, run_seq, metadata)
        counts = (decision.inserted, decision.updated, decision.deleted)
        custom.update({k: str(v) for k, v in zip(COUNT_KEYS, counts, strict=True)})
        custom.update({ROWS_TOTAL_KEY: str(total), DATASET_VERSION_KEY: str(version)})
        guard = self._guard(changes_uri(self.uri), layout.changes, *run_commit(app_id, run_seq))
        props = CommitProperties(
            custom_metadata=custom, app_transactions=[Transaction(app_id, run_seq), Transaction(OFFSET_APP, offset)]
        )
        if fence is not None:  # the last moment before delta-rs writes and commits: is the caller still entitled?
            fence()
        with guard.check():  # lands as change-table version `change_version` (the rows carry it), or is refused
            write_deltalake(
                changes_uri(self.uri) if layout.changes is None else layout.changes,  # at the version read
                rows,
                mode=guard.mode,
                schema_mode="merge",
                storage_options=self._options,
                commit_properties=guard.properties(props),
                name=f"{self.contract.resource}_changes",
                writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
            )
        changes = layout.changes if layout.changes is not None else self._open_changes()
        assert changes is not None and changes.version() == change_version  # the write moved the open table on
        log.info("appended %s change rows to %s (dataset version %s)", n, changes_uri(self.uri), version)
        # the next run finds the pending changes' index of the new version ready: in this process, or on disk
        after = pending_index.merged(decision.index)
        cached_index(self._pending_key(changes, layout.compacted), change_version, after.columns, lambda: after)
        _, columns = columns_of(schema, keys, DELETED)
        save(self.uri, self._options, pending_id(changes, change_version, layout.compacted, columns), after)
        return CommitInfo(
            version=version,
            timestamp=_ts(changes.history(1)[0]),
            run_seq=run_seq,
            metadata=dict(metadata),
            rows_inserted=decision.inserted,
            rows_updated=decision.updated,
            rows_deleted=decision.deleted,
        )

    def _first_load(
        self,
        source: ChangeSource,
        plan: _Plan,
        props: CommitProperties,
        run_seq: int,
        metadata: Mapping[str, str],
        *,
        evolve: bool,
        fence: Callable[[], None] | None = None,
        base: DeltaTable | None,
        guard: Guard,
    ) -> CommitInfo | None:
        """A plain streamed append into a missing or empty table (one commit, same metadata), guarded by `guard`."""
        live = int(np.count_nonzero(plan.keep & ~plan.deleted))
        if live == 0:
            return None
        contract_schema = arrow_schema(self.contract)
        written = plan.keep & ~plan.deleted
        prints = None if plan.prints is None else plan.prints if written.all() else plan.prints[written]
        tap = IndexTap(self.contract.primary_key, prints)
        batches = tap.wrap(self._stream(source, plan, contract_schema, evolve=evolve, live_only=True))
        first = next(batches)
        reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
        if fence is not None:  # the rows stream into the write: this is the last moment before it
            fence()
        with guard.check():  # creates the table, or appends to the empty one at the version read; else refused
            write_deltalake(
                self.uri if base is None else base,
                reader,
                mode=guard.mode,
                configuration=TABLE_CONFIGURATION,
                schema_mode="merge" if evolve else None,
                storage_options=self._options,
                commit_properties=guard.properties(props),
                name=self.contract.resource,
                description=self.contract.title,
                target_file_size=self._target_file_size,
                writer_properties=writer_properties(first),
            )
        dt = DeltaTable(self.uri, storage_options=self._options, version=guard.version)  # this commit's
        log.info("first load of %s rows into %s (version %s)", live, self.uri, dt.version())
        self._save_first_index(dt, tap)
        return self._info(dt, run_seq, metadata, inserted=live)

    def last_commit(self, app_id: str) -> CommitInfo | None:
        """The latest commit made with `app_id` (from the app transaction and the commit history)."""
        with delta_errors(self._what, self.uri, "read"):
            changes = self._open_changes()
            if changes is not None and (run_seq := changes.transaction_version(app_id)) is not None:
                offset = changes.transaction_version(OFFSET_APP) or 0
                for entry in changes.history():
                    if entry.get(APP_ID_KEY) == app_id and entry.get(RUN_SEQ_KEY) == str(run_seq):
                        return _info_from_history(entry, offset=offset)
                return self._history_lost(app_id, run_seq)
            dt = self._open()
            if dt is None:
                return None
            run_seq = dt.transaction_version(app_id)
            if run_seq is None:
                return None
            for entry in dt.history():
                if entry.get(APP_ID_KEY) == app_id and entry.get(RUN_SEQ_KEY) == str(run_seq):
                    return _info_from_history(entry)
        return self._history_lost(app_id, run_seq)

    def _history_lost(self, app_id: str, run_seq: int) -> CommitInfo:
        raise LakeError(
            f"{self._what} at {self.uri} records app transaction {app_id}={run_seq} but its commit is "
            "no longer in the history (log cleaned up); treat the run as committed"
        )

    # -- reading -----------------------------------------------------------------------------
    def _batches(self, layout: Layout, columns: Sequence[str] | None, batch_rows: int) -> Iterator[pa.Table]:
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

    # -- compaction --------------------------------------------------------------------------
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
        before its commit leaves the state as it was; the next one removes the files it left (so the
        caller holds the resource's lock); after its commit, it is done.

        `fence` (when given) is called before removing those files and right before the commit; it
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
            from lake.integrity import remove_unreferenced  # files of a compaction killed before its commit

            if fence is not None:  # they could be the files in flight of a worker that took the lock over
                fence()
            if removed := remove_unreferenced(self):
                log.warning(
                    "removed %s file(s) an interrupted compaction of %s left: %s", len(removed), self.uri, removed
                )
            schema = self._state_schema(layout)
            shaped = pa.schema(
                [*(f.with_nullable(True) for f in schema if f.name != DELETED), pa.field(DELETED, pa.bool_(), False)]
            )
            rows = pa.concat_tables([conform(t, shaped) for t in winners(layout, pend, keys, schema)])
            metadata = {COMPACTED_THROUGH_KEY: str(through), "govhub.operation": "compaction"}
            props = CommitProperties(custom_metadata=metadata)
            pending_index = self._pending_index(layout, schema)  # before the MERGE moves `layout.base` on
            base = DeltaTable(self.uri, storage_options=self._options, version=layout.base.version())
            plan = self._plan(_table_source(rows), keys, arrow_schema(self.contract), has_deleted=True)
            if plan.deleted.any() and self.contract.deletes == "delete":  # a tombstone is a row: it is written
                self._drop_unknown_deletes(base, plan, keys)
            evolve = any(n not in self.schema.names for n in schema.names)
            guard = self._guard(self.uri, base, *compaction_commit(through))
            props = guard.properties(props)
            with guard.check():  # the MERGE commits on top of the base version read, or is refused
                info = self._merge(base, _table_source(rows), plan, props, 0, {}, evolve=evolve, fence=fence)
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
            return CompactionInfo(dt.version(), through, layout.offset + through, rows.num_rows)


def _info_from_history(entry: Mapping[str, Any], *, offset: int = 0) -> CommitInfo:
    names = json.loads(entry.get(METADATA_KEYS_KEY, "[]"))
    metrics = entry.get("operationMetrics") or {}
    if COUNT_KEYS[0] in entry:  # a change-table commit: its counts against the state before
        counts = tuple(int(entry[k]) for k in COUNT_KEYS)
    elif entry.get("operation") == "MERGE":
        counts = (
            metrics.get("num_target_rows_inserted", 0),
            metrics.get("num_target_rows_updated", 0),
            metrics.get("num_target_rows_deleted", 0),
        )
    else:
        counts = (metrics.get("num_added_rows", 0), 0, 0)
    return CommitInfo(
        version=offset + int(entry["version"]),
        timestamp=_ts(entry),
        run_seq=int(entry[RUN_SEQ_KEY]),
        metadata={n: str(entry[n]) for n in names if n in entry},
        rows_inserted=int(counts[0]),
        rows_updated=int(counts[1]),
        rows_deleted=int(counts[2]),
    )
