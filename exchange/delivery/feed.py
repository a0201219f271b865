"""The net change feed a subscriber receives: one row per changed key, its last state in the range.

Delta's change data feed between two versions can hold several changes of one key (inserted in v3,
updated in v4, deleted in v5) and pre/post images of updates. A department applies a delivery as
upserts and deletes, so the hub collapses the feed per key: update pre-images are dropped, the last
change of each key wins, and its `_change_type` is the net effect over the range:

- first change `insert`, last not a delete -> `insert`;  first `insert`, last `delete` -> dropped;
- otherwise last `delete` -> `delete`; else -> `update`.

Tombstone contracts (`deletes: tombstone`) carry `_deleted`: a row turned `_deleted=true` is a
delete for the subscriber, and tombstoned rows are left out of snapshots.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from schemas import Contract

__all__ = ["CHANGE_COLUMNS", "NetFeed", "StreamChecksum", "net_changes", "order_by_key", "table_checksum"]

CHANGE_COLUMNS = ("_change_type", "_commit_version")
_DELETED = "_deleted"


@dataclass(frozen=True)
class NetFeed:
    """The collapsed feed (contract columns + `_change_type`, `_commit_version`) and its counts."""

    table: pa.Table
    inserted: int
    updated: int
    deleted: int

    @property
    def rows(self) -> int:
        return self.inserted + self.updated + self.deleted


def _counts(table: pa.Table) -> tuple[int, int, int]:
    kinds = table.column("_change_type")
    return tuple(pc.sum(pc.equal(kinds, k)).as_py() or 0 for k in ("insert", "update", "delete"))  # type: ignore[return-value]


def net_changes(feed: pa.Table, contract: Contract, *, snapshot: bool) -> NetFeed:
    """Collapse `CuratedTable.changes()` output into one row per key (see module docstring)."""
    keys = list(contract.primary_key)
    feed = feed.drop_columns([c for c in feed.column_names if c == "_commit_timestamp"])
    kind = feed.column("_change_type")
    if _DELETED in feed.column_names:
        dead = pc.fill_null(feed.column(_DELETED), False)
        if snapshot:
            feed = feed.filter(pc.invert(dead))
        else:
            kind = pc.if_else(pc.and_(dead, pc.equal(kind, "update_postimage")), pa.scalar("delete"), kind)
            feed = feed.set_column(feed.schema.get_field_index("_change_type"), "_change_type", kind)
        feed = feed.drop_columns([_DELETED])
        kind = feed.column("_change_type")
    if snapshot:
        out = _columns(feed)
        return NetFeed(out, out.num_rows, 0, 0)
    feed = feed.filter(pc.not_equal(kind, "update_preimage"))
    n = feed.num_rows
    feed = feed.append_column("__row", pa.array(range(n), pa.int64()))
    # CDF order is not guaranteed: sort by version; within a version each key changes once.
    feed = feed.sort_by([("_commit_version", "ascending"), ("__row", "ascending")])
    feed = feed.set_column(feed.schema.get_field_index("__row"), "__row", pa.array(range(n), pa.int64()))
    bounds = (
        feed.select([*keys, "__row"]).group_by(keys, use_threads=False).aggregate([("__row", "min"), ("__row", "max")])
    )
    first_kind = pc.take(feed.column("_change_type"), bounds.column("__row_min"))
    last = feed.take(bounds.column("__row_max"))
    last_kind = last.column("_change_type")
    born = pc.equal(first_kind, "insert")
    gone = pc.equal(last_kind, "delete")
    net = pc.if_else(born, pa.scalar("insert"), pc.if_else(gone, pa.scalar("delete"), pa.scalar("update")))
    last = last.set_column(last.schema.get_field_index("_change_type"), "_change_type", net)
    last = last.filter(pc.invert(pc.and_(born, gone))).drop_columns(["__row"])
    out = _columns(last)
    inserted, updated, deleted = _counts(out)
    return NetFeed(out, inserted, updated, deleted)


def _columns(table: pa.Table) -> pa.Table:
    """Data columns first, then `_change_type`, `_commit_version` (int64)."""
    data = [c for c in table.column_names if c not in CHANGE_COLUMNS]
    table = table.select([*data, *CHANGE_COLUMNS])
    version = table.column("_commit_version").cast(pa.int64())
    return table.set_column(table.num_columns - 1, pa.field("_commit_version", pa.int64()), version)


def order_by_key(table: pa.Table, keys: list[str]) -> pa.Table:
    """Rows in order of the DELIVERED key (pseudonym when masked, so order leaks nothing about real keys).

    Deterministic content: a repeated delivery has the same checksum.
    """
    return table.sort_by([(k, "ascending") for k in keys]) if table.num_rows > 1 else table


def table_checksum(table: pa.Table) -> tuple[str, int]:
    """SHA-256 and size of the table's Arrow IPC stream (the delivered content for database/api modes)."""
    checksum = StreamChecksum(table.schema)
    for batch in table.to_batches():
        checksum.add(batch)
    return checksum.finish()


class StreamChecksum:
    """SHA-256 and size of the Arrow IPC stream of batches given one by one (nothing kept but the hash).

    The same rows in the same batches give the same checksum as `table_checksum` of their table.
    """

    def __init__(self, schema: pa.Schema) -> None:
        self._sink = _HashingSink()
        self._writer = pa.ipc.new_stream(pa.PythonFile(self._sink, mode="w"), schema)

    def add(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def finish(self) -> tuple[str, int]:
        self._writer.close()
        return self._sink.digest.hexdigest(), self._sink.size


class _HashingSink:
    """A write-only file that keeps the SHA-256 and length of what it is given, not the bytes."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
