"""The MERGE side of curated tables: a change stream's passes (last occurrence per key, deletions, the kept
rows shaped) and the copy-on-write MERGE that compaction runs. `CuratedTable` inherits it."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, WriterProperties

from lake._changes import (
    DELETED,
    change_predicate,
    fingerprints,
    key_predicate,
    last_occurrence,
    repeated,
    shape_changes,
)
from lake._record import CommitInfo, info_of
from lake._table import TableBase
from schemas import arrow_schema

__all__ = ["MERGE_IN_MEMORY_ROWS", "ROW_GROUP_ROWS", "ChangeSource", "MergeWriter", "Plan", "table_source"]

log = logging.getLogger(__name__)

# A re-readable change stream: called with a column list (or None for all), it opens a fresh reader.
ChangeSource = Callable[[Sequence[str] | None], pa.RecordBatchReader]
# Row groups of 128 Ki rows: the Parquet writer buffers one row group per open file, so this bounds
# the write's memory (a 1 M-row first load: 160 MB instead of 290 MB with delta-rs' 1 Mi-row default).
ROW_GROUP_ROWS = 128 * 1024
# Change sets up to this size are handed to MERGE in memory (file pruning by key range); larger ones stream.
MERGE_IN_MEMORY_ROWS = 200_000


@dataclass
class Plan:
    """What the first pass over a change stream decided: rows kept (last occurrence), deletions."""

    keep: np.ndarray  # bool per row
    deleted: np.ndarray  # bool per row: a kept deletion of a key the table may hold
    deleted_keys: pa.Table  # key columns + `__row` (row number) of every deletion row
    prints: np.ndarray | None = None  # key fingerprint per row (a first load's row index reuses them)

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


def table_source(table: pa.Table) -> ChangeSource:
    """An in-memory table as a re-readable change stream."""

    def open_reader(columns: Sequence[str] | None = None) -> pa.RecordBatchReader:
        selected = table if columns is None else table.select(list(columns))
        return pa.RecordBatchReader.from_batches(selected.schema, selected.to_batches())

    return open_reader


class MergeWriter(TableBase):
    """A change stream's passes and the MERGE into the base."""

    def _plan(self, source: ChangeSource, keys: list[str], contract_schema: pa.Schema, *, has_deleted: bool) -> Plan:
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
        return Plan(keep=keep, deleted=deleted & keep, deleted_keys=deletes, prints=fingerprint)

    def _drop_unknown_deletes(self, dt: DeltaTable, plan: Plan, keys: list[str]) -> None:
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
        self, source: ChangeSource, plan: Plan, contract_schema: pa.Schema, *, evolve: bool, live_only: bool
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

    def _merge(
        self,
        dt: DeltaTable,
        source: ChangeSource,
        plan: Plan,
        props: CommitProperties,
        run_seq: int,
        metadata: Mapping[str, str],
        *,
        evolve: bool,
        fence: Callable[[], None] | None = None,
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
            # A tombstone change row carries the key's last values (the state it was decided against, which
            # may be a pending update the base does not hold yet): it is written whole, like an update, and a
            # key inserted and tombstoned while pending is inserted as a tombstone; merge-on-read shows both so.
            merger = merger.when_matched_update_all(
                predicate=f"{changed} OR (t.{DELETED} IS DISTINCT FROM s.{DELETED})"
            ).when_not_matched_insert_all()
        if fence is not None:  # the last moment before delta-rs writes and commits: is the caller still entitled?
            fence()
        metrics = merger.execute()
        if dt.version() == before:
            log.info("merge into %s changed nothing; no commit", self.uri)
            return None
        log.info("merged into %s: %s", self.uri, metrics)
        return info_of(
            dt,
            run_seq,
            metadata,
            inserted=metrics.get("num_target_rows_inserted", 0),
            updated=metrics.get("num_target_rows_updated", 0),
            deleted=metrics.get("num_target_rows_deleted", 0),
        )
