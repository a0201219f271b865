"""Merge-on-read state of a curated table: the base Delta table plus its append-only change table.

A run appends its net changes to `<table>/_changes`; a compaction MERGEs them into the base and records
`govhub.compacted_through` (the change-table version it includes) in the base commit. The state at a
dataset version is the base rows whose key has no pending change, then the last live change per key.
Dataset versions number the base's own commits first (the first load, and every commit of a table
written before the change table existed), then the change table's: the change table's app transaction
`govhub.dataset_version_offset` holds the dataset version of its version 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable

from lake._changes import DELETED, fingerprints
from lake._store import join_uri, open_table
from schemas.errors import LakeError

__all__ = [
    "CHANGES_DIR",
    "CHANGE_TYPE",
    "COMMIT_VERSION",
    "COMPACTED_THROUGH_KEY",
    "OFFSET_APP",
    "ONE_AT_A_TIME",
    "RUN_SEQ",
    "SYSTEM_COLUMNS",
    "Layout",
    "Pending",
    "conform",
    "pending",
    "resolve",
    "state_batches",
    "winners",
]

CHANGES_DIR = "_changes"
OFFSET_APP = "govhub.dataset_version_offset"
COMPACTED_THROUGH_KEY = "govhub.compacted_through"
CHANGE_TYPE, COMMIT_VERSION, RUN_SEQ = "_change_type", "_commit_version", "_run_seq"
SYSTEM_COLUMNS = (DELETED, CHANGE_TYPE, COMMIT_VERSION, RUN_SEQ)
# Streamed reads hold one batch, not the scanner's default read-ahead (16 batches, 4 files: memory that
# grows with the row width and file size). pre_buffer off: the Parquet reader's coalesced read-ahead
# grew with the file (a 1.2 M-row scan: +210 MB with it, +139 MB without).
ONE_AT_A_TIME: dict[str, Any] = {
    "batch_readahead": 1,
    "fragment_readahead": 1,
    "use_threads": False,
    "fragment_scan_options": ds.ParquetFragmentScanOptions(pre_buffer=False),
}


@dataclass
class Layout:
    """Which base version and which change-table rows make up one dataset version."""

    base: DeltaTable | None  # loaded at the base version the state starts from
    changes: DeltaTable | None  # loaded at the last change-table version included; None: base only
    offset: int  # dataset version of change-table version 0
    compacted: int  # change-table version the base includes (-1: none)

    @property
    def version(self) -> int | None:
        """The dataset version this layout shows (None before the first commit)."""
        if self.changes is not None:
            return self.offset + self.changes.version()
        return None if self.base is None else self.base.version()

    @property
    def pending_filter(self) -> ds.Expression:
        """Change rows not yet in the base (the change table is read at its version: nothing newer)."""
        return pc.field(COMMIT_VERSION) > pa.scalar(self.offset + self.compacted, pa.int64())


def changes_uri(uri: str) -> str:
    """Where the change table of the curated table at `uri` lives."""
    return join_uri(uri, CHANGES_DIR)


def compacted_through(entry: Mapping[str, Any]) -> int | None:
    """The change-table version a base commit includes (None: not a compaction)."""
    value = entry.get(COMPACTED_THROUGH_KEY)
    return None if value is None else int(value)


def resolve(uri: str, options: Mapping[str, str], what: str, version: int | None) -> Layout:
    """The layout of dataset `version` (default: the current one)."""
    base = open_table(uri, options, what)
    changes = open_table(changes_uri(uri), options, f"{what} (change table)")
    if changes is None or base is None:
        if base is not None and version is not None:
            base.load_as_version(version)
        return Layout(base, None, 0 if base is None else base.version() + 1, -1)
    offset = changes.transaction_version(OFFSET_APP)
    if offset is None:
        raise LakeError(f"{what} at {uri}: its change table records no {OFFSET_APP}; restore it from backup")
    if version is not None and version < offset:  # a version from before the change table: the base's own
        base.load_as_version(version)
        return Layout(base, None, offset, -1)
    if version is not None:
        if version - offset > changes.version():
            raise LakeError(f"{what} at {uri} has no version {version} (newest: {offset + changes.version()})")
        changes.load_as_version(version - offset)
        entries = base.history()
    else:
        entries = base.history(1)
    through = changes.version()
    for entry in entries:  # newest first: the newest compaction within reach, else the base's origin
        done = compacted_through(entry)
        if done is None or done <= through:
            if int(entry["version"]) != base.version():
                base.load_as_version(int(entry["version"]))
            return Layout(base, changes, offset, -1 if done is None else done)
    raise LakeError(f"{what} at {uri}: no base version before dataset version {version}; restore from backup")


@dataclass
class Pending:
    """The pending changes' keys and, in the change table's scan order, which row is each key's last."""

    keys: pa.Table  # distinct key columns of every pending change
    prints: np.ndarray  # sorted fingerprints of `keys`
    winners: np.ndarray  # sorted scan row numbers of each key's last change
    rows: int  # pending change rows (all, not only winners)

    @classmethod
    def of(cls, keys: pa.Table) -> Pending:
        """A key filter for `keys` (distinct key columns): `hits` answers membership, exactly."""
        prints = np.sort(fingerprints([keys.column(i) for i in range(keys.num_columns)]))
        return cls(keys, prints, np.zeros(0, dtype=np.int64), 0)

    def hits(self, batch: pa.Table | pa.RecordBatch, keys: Sequence[str], types: Sequence[pa.DataType]) -> np.ndarray:
        """Per row of `batch`: is its key one of the pending keys (fingerprint, then the key itself)."""
        n = batch.num_rows
        found = np.zeros(n, dtype=bool)
        if not len(self.prints) or not n:
            return found
        columns = [batch.column(k).cast(t) for k, t in zip(keys, types, strict=True)]
        probe = fingerprints(columns)
        at = np.minimum(np.searchsorted(self.prints, probe), len(self.prints) - 1)
        rows = np.flatnonzero(self.prints[at] == probe)
        if not len(rows):
            return found
        candidates = pa.table({k: c.take(pa.array(rows)) for k, c in zip(keys, columns, strict=True)})
        if len(keys) == 1:
            exact = pc.is_in(candidates.column(0), value_set=self.keys.column(0).combine_chunks())
            found[rows[exact.to_numpy(zero_copy_only=False)]] = True
        else:
            numbered = candidates.append_column("__i", pa.array(np.arange(len(rows), dtype=np.int64)))
            joined = numbered.join(self.keys, list(keys), join_type="left semi")
            found[rows[joined.column("__i").to_numpy()]] = True
        return found


def _change_dataset(layout: Layout) -> ds.Dataset:
    assert layout.changes is not None
    return layout.changes.to_pyarrow_dataset()


def pending(layout: Layout, keys: Sequence[str], types: Sequence[pa.DataType]) -> Pending:
    """Read the pending changes' keys and versions (a few columns of a table bounded by compaction)."""
    empty = pa.table({k: pa.array([], t) for k, t in zip(keys, types, strict=True)})
    if layout.changes is None:
        return Pending(empty, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), 0)
    parts = [
        pa.Table.from_batches([b]).cast(
            pa.schema(
                [*(pa.field(k, t) for k, t in zip(keys, types, strict=True)), pa.field(COMMIT_VERSION, pa.int64())]
            )
        )
        for b in _change_dataset(layout).to_batches(
            columns=[*keys, COMMIT_VERSION], filter=layout.pending_filter, **ONE_AT_A_TIME
        )
        if b.num_rows
    ]
    if not parts:
        return Pending(empty, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), 0)
    table = pa.concat_tables(parts)
    n = table.num_rows
    order = np.argsort(table.column(COMMIT_VERSION).to_numpy(), kind="stable")
    ranked = (
        table.take(pa.array(order)).select(list(keys)).append_column("__rank", pa.array(np.arange(n, dtype=np.int64)))
    )
    last = ranked.group_by(list(keys), use_threads=False).aggregate([("__rank", "max")])
    winners = np.sort(order[last.column("__rank_max").to_numpy()])
    distinct = last.select(list(keys))
    prints = np.sort(fingerprints([distinct.column(k) for k in keys]))
    return Pending(distinct, prints, winners, n)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` in `schema`: columns it lacks added as nulls, in the schema's order and types."""
    n = table.num_rows
    columns = [table.column(f.name) if f.name in table.column_names else pa.nulls(n, f.type) for f in schema]
    out = pa.Table.from_arrays(columns, names=schema.names)
    return out if out.schema.equals(schema, check_metadata=True) else out.cast(schema)


def state_batches(
    layout: Layout,
    keys: Sequence[str],
    schema: pa.Schema,
    *,
    tombstone: bool,
    batch_rows: int = 64 * 1024,
    only: Pending | None = None,
) -> Iterator[pa.Table]:
    """The rows of `layout` in `schema` (its columns only), base first, then the last live change per key.

    Nothing beyond a batch and the pending keys is held. `only`: restrict to these keys (a lookup).
    """
    types = [schema.field(k).type for k in keys]
    pend = pending(layout, keys, types)
    wanted = [n for n in schema.names]
    read_base = list(dict.fromkeys([*keys, *wanted]))
    if layout.base is not None:
        base_names = set(pa.schema(layout.base.schema().to_arrow()).names)
        dataset = layout.base.to_pyarrow_dataset()
        columns = [c for c in read_base if c in base_names]
        for batch in dataset.to_batches(columns=columns, batch_size=batch_rows, **ONE_AT_A_TIME):
            if not batch.num_rows:
                continue
            keep = ~pend.hits(batch, keys, types)
            if only is not None:
                keep &= only.hits(batch, keys, types)
            if not keep.any():
                continue
            table = pa.Table.from_batches([batch])
            if not keep.all():
                table = table.filter(pa.array(keep))
            yield conform(table, schema)
    for table in winners(layout, pend, keys, schema, batch_rows=batch_rows):
        if not tombstone:
            table = table.filter(pc.invert(pc.fill_null(table.column(DELETED), False)))
        if only is not None:
            table = table.filter(pa.array(only.hits(table, keys, types)))
        if table.num_rows:
            yield conform(table, schema)


def winners(
    layout: Layout, pend: Pending, keys: Sequence[str], schema: pa.Schema, *, batch_rows: int = 64 * 1024
) -> Iterator[pa.Table]:
    """The last pending change of each key (deleted ones too, with `_deleted`), batch by batch."""
    if layout.changes is None or not pend.rows:
        return
    names = set(pa.schema(layout.changes.schema().to_arrow()).names)
    columns = [c for c in dict.fromkeys([*keys, *schema.names, DELETED]) if c in names]
    offset = 0
    for batch in _change_dataset(layout).to_batches(
        columns=columns, filter=layout.pending_filter, batch_size=batch_rows, **ONE_AT_A_TIME
    ):
        n = batch.num_rows
        lo, hi = np.searchsorted(pend.winners, [offset, offset + n])
        rows = pend.winners[lo:hi] - offset
        offset += n
        if len(rows):
            yield pa.Table.from_batches([batch]).take(pa.array(rows))
