"""Curated Delta tables: one per resource, changed only by one atomic MERGE commit per pipeline run."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake

from lake._append import decide
from lake._changes import (
    DELETED,
    change_predicate,
    fingerprints,
    key_predicate,
    last_occurrence,
    repeated,
    shape_changes,
)
from lake._index import ABSENT, TOMBSTONED, RowIndex, cached_index
from lake._state import (
    COMMIT_VERSION,
    COMPACTED_THROUGH_KEY,
    OFFSET_APP,
    ONE_AT_A_TIME,
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
from lake.keyset import KeySet
from schemas import Contract, arrow_schema
from schemas.errors import LakeError

__all__ = ["ChangeSource", "CommitInfo", "CompactionInfo", "CuratedTable"]

log = logging.getLogger(__name__)

RUN_SEQ_KEY = "govhub.run_seq"
APP_ID_KEY = "govhub.app_id"
METADATA_KEYS_KEY = "govhub.metadata_keys"
ROWS_TOTAL_KEY = "govhub.rows_total"
COUNT_KEYS = ("govhub.rows_inserted", "govhub.rows_updated", "govhub.rows_deleted")
DATASET_VERSION_KEY = "govhub.dataset_version"
CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")
TABLE_CONFIGURATION = {"delta.enableChangeDataFeed": "true"}


# A re-readable change stream: called with a column list (or None for all), it opens a fresh reader.
ChangeSource = Callable[[Sequence[str] | None], pa.RecordBatchReader]
# Row groups of 128 Ki rows: the Parquet writer buffers one row group per open file, so this bounds
# the write's memory (a 1 M-row first load: 160 MB instead of 290 MB with delta-rs' 1 Mi-row default).
ROW_GROUP_ROWS = 128 * 1024
_ONE_AT_A_TIME = ONE_AT_A_TIME
# Change sets up to this size are handed to MERGE in memory (file pruning by key range); larger ones stream.
MERGE_IN_MEMORY_ROWS = 200_000


@dataclass
class _Plan:
    """What the first pass over a change stream decided: rows kept (last occurrence), deletions."""

    keep: np.ndarray  # bool per row
    deleted: np.ndarray  # bool per row: a kept deletion of a key the table may hold
    deleted_keys: pa.Table  # key columns + `__row` (row number) of every deletion row

    @property
    def rows(self) -> int:
        return int(np.count_nonzero(self.keep))


def _take_rows(source: ChangeSource, keys: list[str], schema: pa.Schema, rows: np.ndarray) -> pa.Table:
    """The key columns of the given (sorted) row numbers, read from the stream."""
    parts, offset = [], 0
    for batch in source(keys):
        lo, hi = np.searchsorted(rows, [offset, offset + batch.num_rows])
        if hi > lo:
            taken = batch.take(pa.array(rows[lo:hi] - offset))
            parts.append(pa.table({k: taken.column(k).cast(schema.field(k).type) for k in keys}))
        offset += batch.num_rows
    return pa.concat_tables(parts)


def _table_source(table: pa.Table) -> ChangeSource:
    """An in-memory table as a re-readable change stream."""

    def open_reader(columns: Sequence[str] | None = None) -> pa.RecordBatchReader:
        selected = table if columns is None else table.select(list(columns))
        return pa.RecordBatchReader.from_batches(selected.schema, selected.to_batches())

    return open_reader


@dataclass(frozen=True)
class CommitInfo:
    """One commit made by a pipeline run: the dataset version it produced and what it changed."""

    version: int
    timestamp: datetime
    run_seq: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0


@dataclass(frozen=True)
class CompactionInfo:
    """One compaction: the base version it wrote and the change-table version it includes."""

    base_version: int
    compacted_through: int
    dataset_version: int
    rows: int


class CuratedTable:
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
    ) -> CommitInfo | None:
        """Commit a run's accepted changes in ONE atomic commit: the first load appends to the base; every
        later run appends its net changes (one row per key: `_change_type`, `_deleted`, the dataset
        version, the run's sequence) to the change table (merge-on-read: no base file is rewritten).

        `changes` holds the contract's columns plus an optional `_deleted` flag: a table, a reader
        (read into memory once), or a `ChangeSource` — a function opening a fresh reader of the
        changes (of some columns only when asked), which is streamed: a first pass reads only the
        key and `_deleted` columns, the second streams the rows into the first load (memory flat) or
        collects a later run's kept rows (the change) to classify them. Within `changes` a key appearing several times keeps only its
        LAST occurrence. Rows identical to the stored row and deletes of unknown keys change
        nothing; when nothing changes no commit is made and None is returned. The commit carries
        `metadata`, `govhub.run_seq` and the app transaction (app_id, run_seq), so
        `last_commit(app_id)` recognises it after a crash.
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
                return self._first_load(source, plan, props, run_seq, metadata, evolve=evolve)
            return self._append(layout, source, plan, app_id, run_seq, metadata, evolve=evolve)

    def _state_schema(self, layout: Layout) -> pa.Schema:
        """The columns of the state: the base's (contract types) and any the change table added."""
        schema = self.schema
        if layout.base is not None:
            schema = _normalise(pa.schema(layout.base.schema().to_arrow()).empty_table(), self.schema).schema
        if layout.changes is not None:
            stored = _normalise(pa.schema(layout.changes.schema().to_arrow()).empty_table(), self.schema).schema
            extra = [
                f.with_nullable(True) for f in stored if f.name not in schema.names and f.name not in SYSTEM_COLUMNS
            ]
            schema = pa.schema([*schema, *extra], metadata=schema.metadata)
        return schema

    def _indexes(self, layout: Layout, schema: pa.Schema) -> tuple[RowIndex, RowIndex]:
        """The base's row index (cached per base version) and the pending changes' (per change version)."""
        keys = list(self.contract.primary_key)
        types = [schema.field(k).type for k in keys]
        values = [n for n in schema.names if n not in keys and n != DELETED]
        tombstone = self.contract.deletes == "tombstone"
        indexed = pa.schema([*(schema.field(n) for n in [*keys, *values]), pa.field(DELETED, pa.bool_())])
        base = layout.base

        def base_tables() -> Iterator[pa.Table]:
            assert base is not None
            names = set(pa.schema(base.schema().to_arrow()).names)
            columns = [c for c in [*keys, *values, DELETED] if c in names]
            for batch in base.to_pyarrow_dataset().to_batches(columns=columns, **_ONE_AT_A_TIME):
                yield conform(pa.Table.from_batches([batch]), pa.schema([indexed.field(c) for c in columns]))

        def pending_index() -> RowIndex:
            pend = pending(layout, keys, types)
            dead = TOMBSTONED if tombstone else ABSENT
            tables = (conform(t, indexed) for t in winners(layout, pend, keys, schema))
            return RowIndex.build(tables, keys, types, values, deleted_state=dead)

        empty = RowIndex.build([], keys, types, values)
        base_index = (
            empty
            if base is None
            else cached_index(
                self.uri, base.version(), values, lambda: RowIndex.build(base_tables(), keys, types, values)
            )
        )
        if layout.changes is None:
            return base_index, empty
        return base_index, cached_index(self._pending_key(layout), layout.changes.version(), values, pending_index)

    def _pending_key(self, layout: Layout) -> str:
        return f"{changes_uri(self.uri)}@{layout.compacted}"

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
        before = (
            _stat_rows(layout.base) if layout.changes is None else int(layout.changes.history(1)[0][ROWS_TOTAL_KEY])
        )
        total = before + decision.inserted - decision.deleted
        custom = self._custom_metadata(app_id, run_seq, metadata)
        counts = (decision.inserted, decision.updated, decision.deleted)
        custom.update({k: str(v) for k, v in zip(COUNT_KEYS, counts, strict=True)})
        custom.update({ROWS_TOTAL_KEY: str(total), DATASET_VERSION_KEY: str(version)})
        write_deltalake(
            changes_uri(self.uri) if layout.changes is None else layout.changes,  # an open table: no re-read
            rows,
            mode="append",
            schema_mode="merge",
            storage_options=self._options,
            commit_properties=CommitProperties(
                custom_metadata=custom, app_transactions=[Transaction(app_id, run_seq), Transaction(OFFSET_APP, offset)]
            ),
            name=f"{self.contract.resource}_changes",
            writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
        )
        if layout.changes is None:
            changes = self._open_changes()
            assert changes is not None
        else:
            changes = layout.changes
            if changes.version() != change_version:
                changes.update_incremental()
        if changes.version() != change_version:
            raise LakeError(
                f"{self._what} at {self.uri}: another writer appended to the change table at the same time "
                f"(expected version {change_version}, found {changes.version()}); runs of one resource must "
                "hold its lock. Restore the change table to its version before both commits and re-run."
            )
        log.info("appended %s change rows to %s (dataset version %s)", n, changes_uri(self.uri), version)
        # the next run of this process finds the pending changes' index of the new version ready
        cached_index(
            self._pending_key(layout),
            change_version,
            pending_index.columns,
            lambda: pending_index.merged(decision.index),
        )
        return CommitInfo(
            version=version,
            timestamp=_ts(changes.history(1)[0]),
            run_seq=run_seq,
            metadata=dict(metadata),
            rows_inserted=decision.inserted,
            rows_updated=decision.updated,
            rows_deleted=decision.deleted,
        )

    def _plan(self, source: ChangeSource, keys: list[str], contract_schema: pa.Schema, *, has_deleted: bool) -> _Plan:
        """First pass over the key and `_deleted` columns: which rows to keep, which are deletions.

        Holds 9 bytes per row (a key fingerprint and a flag) plus the keys of deleted rows; keys
        whose fingerprints repeat are compared exactly in a pass over just those rows.
        """
        prints, flags, deleted_keys = [], [], []
        offset = 0
        for batch in source([*keys, *([DELETED] if has_deleted else [])]):
            n = batch.num_rows
            key_columns = [batch.column(k).cast(contract_schema.field(k).type) for k in keys]
            prints.append(fingerprints(key_columns))
            flag = (
                pc.fill_null(batch.column(DELETED).cast(pa.bool_()), False).to_numpy(zero_copy_only=False)
                if has_deleted
                else np.zeros(n, dtype=bool)
            )
            flags.append(flag)
            if flag.any():
                rows = np.flatnonzero(flag)
                taken = {k: c.take(pa.array(rows)) for k, c in zip(keys, key_columns, strict=True)}
                deleted_keys.append(pa.table({**taken, "__row": pa.array(rows + offset, pa.int64())}))
            offset += n
        fingerprint = np.concatenate(prints) if prints else np.zeros(0, dtype=np.uint64)
        deleted = np.concatenate(flags) if flags else np.zeros(0, dtype=bool)
        del prints, flags
        keep = np.ones(len(fingerprint), dtype=bool)
        candidates = repeated(fingerprint)
        if len(candidates):  # the keys of rows whose fingerprints repeat, compared exactly
            index = _take_rows(source, keys, contract_schema, candidates)
            last = last_occurrence(index, keys)
            if last is not None:
                keep[candidates[~last]] = False
        schema = pa.schema([*(contract_schema.field(k) for k in keys), pa.field("__row", pa.int64())])
        deletes = pa.concat_tables(deleted_keys) if deleted_keys else schema.empty_table()
        return _Plan(keep=keep, deleted=deleted & keep, deleted_keys=deletes)

    def _drop_unknown_deletes(self, dt: DeltaTable, plan: _Plan, keys: list[str]) -> None:
        """Stop sending deletions of keys the table does not hold (they would match no MERGE clause).

        delta-rs 1.6 fails a MERGE when a source row matches no clause and the target has NOT NULL
        columns. Only the target's key columns are scanned, batch by batch, against the few deleted keys.
        """
        live = plan.deleted[plan.deleted_keys.column("__row").to_numpy()]
        probe = plan.deleted_keys.filter(pa.array(live))
        rows = probe.column("__row").to_numpy()
        if len(keys) == 1:
            wanted = probe.column(keys[0]).combine_chunks()
            held = []  # the target's key column batch by batch (no table of every key in memory)
            for batch in dt.to_pyarrow_dataset().to_batches(columns=keys):
                column = batch.column(0).cast(wanted.type)
                held.append(column.filter(pc.is_in(column, value_set=wanted)))
            found = pa.concat_arrays(held) if held else pa.array([], wanted.type)
            unknown = ~pc.is_in(wanted, value_set=found).to_numpy(zero_copy_only=False)
        else:  # composite keys: a semi-join of the few deleted keys against the target's keys
            numbered = probe.select(keys).append_column("__i", pa.array(np.arange(len(rows), dtype=np.int64)))
            held_rows = numbered.join(dt.to_pyarrow_table(columns=keys), keys, join_type="left semi")
            unknown = np.ones(len(rows), dtype=bool)
            unknown[held_rows.column("__i").to_numpy()] = False
        plan.keep[rows[unknown]] = False
        plan.deleted[rows[unknown]] = False

    def _stream(
        self, source: ChangeSource, plan: _Plan, contract_schema: pa.Schema, *, evolve: bool, live_only: bool
    ) -> Iterator[pa.RecordBatch]:
        """Second pass: the kept rows, shaped (contract types, `_deleted`), batch by batch."""
        offset = 0
        for batch in source(None):
            n = batch.num_rows
            keep = plan.keep[offset : offset + n]
            if live_only:
                keep = keep & ~plan.deleted[offset : offset + n]
            offset += n
            if not keep.any():
                continue
            table = pa.Table.from_batches([batch])
            if not keep.all():
                table = table.filter(pa.array(keep))
            shaped = shape_changes(table, contract_schema, evolve=evolve, table=self._what)
            if live_only:
                shaped = self._physical(shaped)
            yield from shaped.to_batches()

    def _physical(self, live: pa.Table) -> pa.Table:
        """Live rows in the table's physical schema (contract nullability, tombstone column)."""
        if self.contract.deletes == "delete":
            live = live.drop_columns([DELETED])
        extra = [live.schema.field(n) for n in live.column_names if n not in self.schema.names]
        return live.cast(pa.schema([*self.schema, *extra], metadata=self.schema.metadata))

    def _custom_metadata(self, app_id: str, run_seq: int, metadata: Mapping[str, str]) -> dict[str, str]:
        custom = {str(k): str(v) for k, v in metadata.items()}
        custom.update({RUN_SEQ_KEY: str(run_seq), APP_ID_KEY: app_id, METADATA_KEYS_KEY: json.dumps(sorted(custom))})
        return custom

    def _commit_properties(self, app_id: str, run_seq: int, metadata: Mapping[str, str]) -> CommitProperties:
        custom = self._custom_metadata(app_id, run_seq, metadata)
        return CommitProperties(custom_metadata=custom, app_transactions=[Transaction(app_id, run_seq)])

    def _first_load(
        self,
        source: ChangeSource,
        plan: _Plan,
        props: CommitProperties,
        run_seq: int,
        metadata: Mapping[str, str],
        *,
        evolve: bool,
    ) -> CommitInfo | None:
        """A plain streamed append into a missing or empty table (one commit, same metadata)."""
        live = int(np.count_nonzero(plan.keep & ~plan.deleted))
        if live == 0:
            return None
        contract_schema = arrow_schema(self.contract)
        batches = self._stream(source, plan, contract_schema, evolve=evolve, live_only=True)
        first = next(batches)
        reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
        write_deltalake(
            self.uri,
            reader,
            mode="append",
            configuration=TABLE_CONFIGURATION,
            schema_mode="merge" if evolve else None,
            storage_options=self._options,
            commit_properties=props,
            name=self.contract.resource,
            description=self.contract.title,
            target_file_size=self._target_file_size,
            writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
        )
        dt = DeltaTable(self.uri, storage_options=self._options)
        log.info("first load of %s rows into %s (version %s)", live, self.uri, dt.version())
        return self._info(dt, run_seq, metadata, inserted=live)

    def _merge(
        self,
        dt: DeltaTable,
        source: ChangeSource,
        plan: _Plan,
        props: CommitProperties,
        run_seq: int,
        metadata: Mapping[str, str],
        *,
        evolve: bool,
    ) -> CommitInfo | None:
        rows = int(np.count_nonzero(plan.keep))
        if rows == 0:
            return None
        contract_schema = arrow_schema(self.contract)
        batches = self._stream(source, plan, contract_schema, evolve=evolve, live_only=False)
        first = next(batches)
        streamed = rows > MERGE_IN_MEMORY_ROWS
        if streamed:  # a large change set streams into delta-rs (no file pruning by the source's key range)
            shaped: pa.Table | pa.RecordBatchReader = pa.RecordBatchReader.from_batches(
                first.schema, itertools.chain([first], batches)
            )
        else:  # in memory: delta-rs uses the source's key statistics to skip target files
            shaped = pa.Table.from_batches([first, *batches])
        target_cols = set(pa.schema(dt.schema().to_arrow()).names)
        compare = [n for n in first.schema.names if n != DELETED and n not in self.contract.primary_key]
        changed = change_predicate(
            [c for c in compare if c in target_cols], [c for c in compare if c not in target_cols]
        )
        before = dt.version()
        merger = dt.merge(
            shaped,
            key_predicate(self.contract.primary_key),
            source_alias="s",
            target_alias="t",
            merge_schema=evolve,
            streamed_exec=streamed,
            writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
            commit_properties=props,
        )
        if self.contract.deletes == "delete":
            merger = (
                merger.when_matched_delete(predicate=f"s.{DELETED}")
                .when_matched_update_all(predicate=f"NOT s.{DELETED} AND {changed}", except_cols=[DELETED])
                .when_not_matched_insert_all(predicate=f"NOT s.{DELETED}", except_cols=[DELETED])
            )
        else:
            merger = (
                merger.when_matched_update({DELETED: "true"}, predicate=f"s.{DELETED} AND NOT t.{DELETED}")
                .when_matched_update_all(predicate=f"NOT s.{DELETED} AND ({changed} OR t.{DELETED})")
                .when_not_matched_insert_all(predicate=f"NOT s.{DELETED}")
            )
        metrics = merger.execute()
        if dt.version() == before:
            log.info("merge into %s changed nothing; no commit", self.uri)
            return None
        log.info("merged into %s: %s", self.uri, metrics)
        return self._info(
            dt,
            run_seq,
            metadata,
            inserted=metrics.get("num_target_rows_inserted", 0),
            updated=metrics.get("num_target_rows_updated", 0),
            deleted=metrics.get("num_target_rows_deleted", 0),
        )

    def _info(
        self,
        dt: DeltaTable,
        run_seq: int,
        metadata: Mapping[str, str],
        *,
        inserted: int,
        updated: int = 0,
        deleted: int = 0,
    ) -> CommitInfo:
        entry = dt.history(1)[0]
        return CommitInfo(
            version=dt.version(),
            timestamp=_ts(entry),
            run_seq=run_seq,
            metadata=dict(metadata),
            rows_inserted=int(inserted),
            rows_updated=int(updated),
            rows_deleted=int(deleted),
        )

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
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
        tombstone = self.contract.deletes == "tombstone"
        return state_batches(
            layout, list(self.contract.primary_key), schema, tombstone=tombstone, batch_rows=batch_rows
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

    def key_set(self, column: str, *, version: int | None = None) -> KeySet:
        """The values of `column` at dataset `version` (default: current) as a compact `KeySet`.

        Read one batch at a time: only 8 bytes per row are kept (what reference checks need).
        """
        with delta_errors(self._what, self.uri, "read"):
            layout = self._layout(version)
            if layout.base is None:
                return KeySet.of(pa.array([], pa.string()))
            return KeySet.from_batches(t.column(column) for t in self._batches(layout, [column], 64 * 1024))

    def row_count(self) -> int:
        """Rows in the current version: recorded by the newest change commit, else the base log's statistics."""
        with delta_errors(self._what, self.uri, "read"):
            changes = self._open_changes()
            if changes is not None:
                return int(changes.history(1)[0][ROWS_TOTAL_KEY])
            dt = self._open()
            if dt is None:
                return 0
            return _stat_rows(dt)

    def changes(self, *, after_version: int | None, to_version: int | None = None) -> pa.Table:
        """The changes after dataset `after_version` (exclusive) up to `to_version` (inclusive).

        One row per key and version: `insert`, `update_postimage` (tombstones: with `_deleted=true`)
        or `delete`, with `_commit_version` and `_commit_timestamp`; versions from before the change
        table come from the base's change data feed (which also has `update_preimage` rows).
        `after_version=None` returns the full snapshot at `to_version` as inserts, all stamped with
        that version, so a new subscriber starts from a consistent copy.
        """
        with delta_errors(self._what, self.uri, "read"):
            now = self._layout()
            if now.base is None:
                return _cdf_schema(self.schema).empty_table()
            end = now.version if to_version is None else to_version
            assert end is not None
            if after_version is None:
                return self._snapshot_feed(end)
            schema = _cdf_schema(self._state_schema(now))
            if after_version >= end:
                return schema.empty_table()
            parts = []
            if after_version < now.offset - 1:  # versions written before the change table: the base's CDF
                base = now.base
                base_end = min(end, now.offset - 1)
                feed = pa.table(base.load_cdf(starting_version=after_version + 1, ending_version=base_end))
                parts.append(conform(_normalise_cdf(feed, self.schema), schema))
            if end >= now.offset and now.changes is not None:
                parts.append(conform(self._change_rows(now, after_version, end), schema))
            return pa.concat_tables(parts) if parts else schema.empty_table()

    def _change_rows(self, now: Layout, after: int, end: int) -> pa.Table:
        """The change table's rows of dataset versions (after, end] as change-feed rows."""
        assert now.changes is not None
        low = max(after, now.offset - 1)
        where = (pc.field(COMMIT_VERSION) > pa.scalar(low, pa.int64())) & (
            pc.field(COMMIT_VERSION) <= pa.scalar(end, pa.int64())
        )
        rows = now.changes.to_pyarrow_dataset().to_table(filter=where)
        stamps = {
            now.offset + int(e["version"]): _ts(e)
            for e in now.changes.history(now.changes.version() - (low - now.offset))
        }
        kinds = pc.replace_substring_regex(rows.column("_change_type"), "^update$", "update_postimage")
        when = pa.array([stamps.get(v) for v in rows.column(COMMIT_VERSION).to_pylist()], pa.timestamp("ms", tz="UTC"))
        data = rows.drop_columns([c for c in (RUN_SEQ, "_change_type", COMMIT_VERSION) if c in rows.column_names])
        if self.contract.deletes == "delete":
            data = data.drop_columns([DELETED])
        data = _normalise(data, self.schema)
        return (
            data.append_column("_change_type", kinds.cast(pa.string()))
            .append_column("_commit_version", rows.column(COMMIT_VERSION).cast(pa.int64()))
            .append_column("_commit_timestamp", when)
        )

    def _snapshot_feed(self, end: int) -> pa.Table:
        snap = self.read(version=end)
        n = snap.num_rows
        stamp = self._commit_time(end)
        snap = snap.append_column("_change_type", pa.repeat(pa.scalar("insert", pa.string()), n))
        snap = snap.append_column("_commit_version", pa.repeat(pa.scalar(end, pa.int64()), n))
        return snap.append_column("_commit_timestamp", pa.repeat(pa.scalar(stamp, pa.timestamp("ms", tz="UTC")), n))

    def _commit_time(self, version: int) -> datetime:
        where, at = self.locate(version)
        dt = self._open_changes() if where else self._open()
        assert dt is not None
        for entry in dt.history(dt.version() - at + 1):
            if int(entry["version"]) == at:
                return _ts(entry)
        raise LakeError(f"{self._what} at {self.uri}: the commit of version {version} is no longer in the history")

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
                return 0, 0 if layout.base is None else _stat_rows(layout.base)
            rows = layout.changes.to_pyarrow_dataset().count_rows(filter=layout.pending_filter)
            return int(rows), _stat_rows(layout.base)

    def compact(self, *, threshold: float | None = None) -> CompactionInfo | None:
        """MERGE the pending changes (the last change per key) into the base in ONE commit.

        The commit records `govhub.compacted_through` (the change-table version it includes), so
        readers skip those changes; the change table is never rewritten. With `threshold`, nothing
        happens unless the pending changes exceed that share of the base's rows. A compaction killed
        before its commit leaves the state as it was; the next one removes the files it left (so the
        caller holds the resource's lock); after its commit, it is done.
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
            if threshold is not None and pend.rows <= threshold * _stat_rows(layout.base):
                return None
            through = layout.changes.version()
            from lake.integrity import remove_unreferenced  # files of a compaction killed before its commit

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
            base = layout.base
            plan = self._plan(_table_source(rows), keys, arrow_schema(self.contract), has_deleted=True)
            if plan.deleted.any():
                self._drop_unknown_deletes(base, plan, keys)
            evolve = any(n not in self.schema.names for n in schema.names)
            info = self._merge(base, _table_source(rows), plan, props, 0, {}, evolve=evolve)
            if info is None:  # the changes were already in the base: record the compaction all the same
                write_deltalake(
                    self.uri,
                    pa.schema(base.schema().to_arrow()).empty_table(),
                    mode="append",
                    storage_options=self._options,
                    commit_properties=props,
                )
            dt = self._open()
            assert dt is not None
            log.info("compacted %s change rows of %s into base version %s", rows.num_rows, self.uri, dt.version())
            return CompactionInfo(dt.version(), through, layout.offset + through, rows.num_rows)


def _stat_rows(dt: DeltaTable) -> int:
    """Rows of a Delta table version from its log's file statistics (no data file is read)."""
    actions = pa.table(dt.get_add_actions(flatten=True))
    return int(pc.sum(actions.column("num_records")).as_py() or 0) if actions.num_rows else 0


def _ts(entry: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(entry["timestamp"]) / 1000, tz=UTC)


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


def _normalise(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Give contract columns their contract types (delta-rs may return string_view etc.)."""
    fields = []
    for f in table.schema:
        if f.name in schema.names:
            fields.append(schema.field(f.name).with_nullable(f.nullable or schema.field(f.name).nullable))
        elif pa.types.is_string_view(f.type):
            fields.append(f.with_type(pa.string()))
        else:
            fields.append(f)
    target = pa.schema(fields, metadata=schema.metadata)
    return table if table.schema.equals(target, check_metadata=True) else table.cast(target)


def _cdf_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [
            *(f.with_nullable(True) for f in schema),
            pa.field("_change_type", pa.string()),
            pa.field("_commit_version", pa.int64()),
            pa.field("_commit_timestamp", pa.timestamp("ms", tz="UTC")),
        ],
        metadata=schema.metadata,
    )


def _normalise_cdf(feed: pa.Table, schema: pa.Schema) -> pa.Table:
    data = _normalise(feed.drop_columns(list(CDF_COLUMNS)), schema)
    return (
        data.append_column("_change_type", feed.column("_change_type").cast(pa.string()))
        .append_column("_commit_version", feed.column("_commit_version").cast(pa.int64()))
        .append_column("_commit_timestamp", pc.assume_timezone(feed.column("_commit_timestamp"), "UTC"))
    )
