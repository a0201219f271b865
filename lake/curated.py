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
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake

from lake._changes import (
    DELETED,
    change_predicate,
    fingerprints,
    key_predicate,
    last_occurrence,
    repeated,
    shape_changes,
)
from lake._store import delta_errors, open_table
from lake.keyset import KeySet
from schemas import Contract, arrow_schema
from schemas.errors import LakeError

__all__ = ["ChangeSource", "CommitInfo", "CuratedTable"]

log = logging.getLogger(__name__)

RUN_SEQ_KEY = "govhub.run_seq"
APP_ID_KEY = "govhub.app_id"
METADATA_KEYS_KEY = "govhub.metadata_keys"
CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")
TABLE_CONFIGURATION = {"delta.enableChangeDataFeed": "true"}


# A re-readable change stream: called with a column list (or None for all), it opens a fresh reader.
ChangeSource = Callable[[Sequence[str] | None], pa.RecordBatchReader]
# Row groups of 128 Ki rows: the Parquet writer buffers one row group per open file, so this bounds
# the write's memory (a 1 M-row first load: 160 MB instead of 290 MB with delta-rs' 1 Mi-row default).
ROW_GROUP_ROWS = 128 * 1024
# Streamed reads hold one batch, not the scanner's default read-ahead (16 batches, 4 files: memory that
# grows with the row width and file size, ~200 MB for a 64 Ki-row person scan).
# pre_buffer off: the Parquet reader's coalesced read-ahead grew with the file (a 1.2 M-row scan: +210 MB
# with it, +139 MB without).
_ONE_AT_A_TIME = {
    "batch_readahead": 1,
    "fragment_readahead": 1,
    "use_threads": False,
    "fragment_scan_options": ds.ParquetFragmentScanOptions(pre_buffer=False),
}
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

    def exists(self) -> bool:
        """True once the first commit has created the table."""
        return self._open() is not None

    def version(self) -> int | None:
        """The current version, or None before the first commit."""
        dt = self._open()
        return None if dt is None else dt.version()

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
        """MERGE a run's accepted changes on the primary key in ONE atomic commit.

        `changes` holds the contract's columns plus an optional `_deleted` flag: a table, a reader
        (read into memory once), or a `ChangeSource` — a function opening a fresh reader of the
        changes (of some columns only when asked), which is streamed: a first pass reads only the
        key and `_deleted` columns, the second streams the rows into the table, so memory does not
        grow with the number of rows. Within `changes` a key appearing several times keeps only its
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
            dt = self._open()
            if dt is None or not dt.file_uris():
                return self._first_load(source, plan, props, run_seq, metadata, evolve=evolve)
            if plan.deleted.any():
                self._drop_unknown_deletes(dt, plan, keys)
            return self._merge(dt, source, plan, props, run_seq, metadata, evolve=evolve)

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

    def _commit_properties(self, app_id: str, run_seq: int, metadata: Mapping[str, str]) -> CommitProperties:
        custom = {str(k): str(v) for k, v in metadata.items()}
        custom.update({RUN_SEQ_KEY: str(run_seq), APP_ID_KEY: app_id, METADATA_KEYS_KEY: json.dumps(sorted(custom))})
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
            dt = self._open()
            if dt is None:
                return None
            run_seq = dt.transaction_version(app_id)
            if run_seq is None:
                return None
            for entry in dt.history():
                if entry.get(APP_ID_KEY) == app_id and entry.get(RUN_SEQ_KEY) == str(run_seq):
                    return _info_from_history(entry)
        raise LakeError(
            f"{self._what} at {self.uri} records app transaction {app_id}={run_seq} but its commit is "
            "no longer in the history (log cleaned up); treat the run as committed"
        )

    # -- reading -----------------------------------------------------------------------------
    def _at(self, version: int | None) -> DeltaTable | None:
        dt = self._open()
        if dt is not None and version is not None:
            dt.load_as_version(version)
        return dt

    def read(self, *, version: int | None = None, columns: list[str] | None = None) -> pa.Table:
        """The table's rows at `version` (default: current); an empty table before the first commit."""
        with delta_errors(self._what, self.uri, "read"):
            dt = self._at(version)
            if dt is None:
                empty = self.schema.empty_table()
                return empty.select(columns) if columns else empty
            return _normalise(dt.to_pyarrow_table(columns=columns), self.schema)

    def keys(self) -> pa.Array:
        """The primary-key column of the current version (single-column keys)."""
        if len(self.contract.primary_key) != 1:
            raise LakeError(f"{self._what}: keys() supports single-column primary keys only")
        return self.read(columns=list(self.contract.primary_key)).column(0).combine_chunks()

    def scan(
        self, *, version: int | None = None, columns: list[str] | None = None, batch_rows: int = 64 * 1024
    ) -> Iterator[pa.RecordBatch]:
        """The table's rows at `version` (default: current), batch by batch with contract types.

        Files are read in the order the version's log lists them, so a scan of one version always
        yields the same rows in the same order; nothing beyond a few batches is held in memory.
        """
        with delta_errors(self._what, self.uri, "read"):
            dt = self._at(version)
            if dt is None:
                return
            dataset = dt.to_pyarrow_dataset()
            batches = dataset.to_batches(columns=columns, batch_size=batch_rows, **_ONE_AT_A_TIME)
            for batch in batches:
                if batch.num_rows:
                    yield from _normalise(pa.Table.from_batches([batch]), self.schema).to_batches()

    def key_set(self, column: str, *, version: int | None = None) -> KeySet:
        """The values of `column` at `version` (default: current) as a compact `KeySet`.

        Read one batch at a time: only 8 bytes per row are kept (what reference checks need).
        """
        with delta_errors(self._what, self.uri, "read"):
            dt = self._at(version)
            if dt is None:
                return KeySet.of(pa.array([], pa.string()))
            batches = dt.to_pyarrow_dataset().to_batches(columns=[column], **_ONE_AT_A_TIME)
            return KeySet.from_batches(batch.column(0) for batch in batches)

    def row_count(self) -> int:
        """Rows in the current version, from the Delta log's file statistics (no data file is read)."""
        dt = self._open()
        if dt is None:
            return 0
        with delta_errors(self._what, self.uri, "read"):
            actions = pa.table(dt.get_add_actions(flatten=True))
        return int(pc.sum(actions.column("num_records")).as_py() or 0) if actions.num_rows else 0

    def changes(self, *, after_version: int | None, to_version: int | None = None) -> pa.Table:
        """The change data feed after `after_version` (exclusive) up to `to_version` (inclusive).

        `after_version=None` returns the full snapshot at `to_version` as inserts, all stamped
        with that version, so a new subscriber starts from a consistent copy.
        """
        with delta_errors(self._what, self.uri, "read"):
            dt = self._open()
            if dt is None:
                return _cdf_schema(self.schema).empty_table()
            end = dt.version() if to_version is None else to_version
            if after_version is None:
                dt.load_as_version(end)
                snap = _normalise(dt.to_pyarrow_table(), self.schema)
                stamp = _ts(dt.history(1)[0])
                n = snap.num_rows
                snap = snap.append_column("_change_type", pa.repeat(pa.scalar("insert", pa.string()), n))
                snap = snap.append_column("_commit_version", pa.repeat(pa.scalar(end, pa.int64()), n))
                return snap.append_column(
                    "_commit_timestamp", pa.repeat(pa.scalar(stamp, pa.timestamp("ms", tz="UTC")), n)
                )
            if after_version >= end:
                return _cdf_schema(self._current_schema(dt)).empty_table()
            feed = pa.table(dt.load_cdf(starting_version=after_version + 1, ending_version=end))
            return _normalise_cdf(feed, self.schema)

    def changed_values(
        self, columns: Sequence[str], *, after_version: int, to_version: int
    ) -> Iterator[pa.RecordBatch]:
        """`columns` of the change feed after `after_version` up to `to_version`, with `_change_type` and
        `_commit_version`, batch by batch: only those columns are read (who was touched, not what changed)."""
        with delta_errors(self._what, self.uri, "read"):
            dt = self._open()
            if dt is None or after_version >= to_version:
                return
            wanted = [*columns, "_change_type", "_commit_version"]
            feed = dt.load_cdf(starting_version=after_version + 1, ending_version=to_version, columns=wanted)
            yield from pa.RecordBatchReader.from_stream(feed)

    def _current_schema(self, dt: DeltaTable) -> pa.Schema:
        return _normalise(pa.schema(dt.schema().to_arrow()).empty_table(), self.schema).schema

    def history(self) -> list[dict[str, Any]]:
        """The table's commit history, newest first (delta-rs commitInfo entries with `version`)."""
        with delta_errors(self._what, self.uri, "read"):
            dt = self._open()
            return [] if dt is None else dt.history()


def _ts(entry: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(entry["timestamp"]) / 1000, tz=UTC)


def _info_from_history(entry: Mapping[str, Any]) -> CommitInfo:
    names = json.loads(entry.get(METADATA_KEYS_KEY, "[]"))
    metrics = entry.get("operationMetrics") or {}
    if entry.get("operation") == "MERGE":
        counts = (
            metrics.get("num_target_rows_inserted", 0),
            metrics.get("num_target_rows_updated", 0),
            metrics.get("num_target_rows_deleted", 0),
        )
    else:
        counts = (metrics.get("num_added_rows", 0), 0, 0)
    return CommitInfo(
        version=int(entry["version"]),
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
