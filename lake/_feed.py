"""The change feed of a curated table (deliveries) and the type normalisation its reads share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from lake._changes import DELETED
from lake._record import commit_time
from lake._state import COMMIT_VERSION, RUN_SEQ, Layout, conform
from lake._store import delta_errors
from schemas.errors import LakeError

if TYPE_CHECKING:
    from lake._read import TableReader

__all__ = ["CDF_COLUMNS", "cdf_schema", "change_feed", "changed_values", "normalise", "normalise_cdf", "stat_rows"]

CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")


def stat_rows(dt: DeltaTable) -> int:
    """Rows of a Delta table version from its log's file statistics (no data file is read)."""
    actions = pa.table(dt.get_add_actions(flatten=True))
    return int(pc.sum(actions.column("num_records")).as_py() or 0) if actions.num_rows else 0


def change_feed(table: TableReader, *, after_version: int | None, to_version: int | None = None) -> pa.Table:
    """The changes after dataset `after_version` (exclusive) up to `to_version` (inclusive).

    One row per key and version: `insert`, `update_postimage` (tombstones: with `_deleted=true`)
    or `delete`, with `_commit_version` and `_commit_timestamp`; versions from before the change
    table come from the base's change data feed (which also has `update_preimage` rows).
    `after_version=None` returns the full snapshot at `to_version` as inserts, all stamped with
    that version, so a new subscriber starts from a consistent copy.
    """
    with delta_errors(table._what, table.uri, "read"):
        now = table._layout()
        if now.base is None:
            return cdf_schema(table.schema).empty_table()
        end = now.version if to_version is None else to_version
        assert end is not None
        if after_version is None:
            return _snapshot_feed(table, end)
        schema = cdf_schema(table._state_schema(now))
        if after_version >= end:
            return schema.empty_table()
        parts = []
        if after_version < now.offset - 1:  # versions written before the change table: the base's CDF
            base = now.base
            base_end = min(end, now.offset - 1)
            feed = pa.table(base.load_cdf(starting_version=after_version + 1, ending_version=base_end))
            parts.append(conform(normalise_cdf(feed, table.schema), schema))
        if end >= now.offset and now.changes is not None:
            parts.append(conform(_change_rows(table, now, after_version, end), schema))
        return pa.concat_tables(parts) if parts else schema.empty_table()


def changed_values(
    table: TableReader, columns: Sequence[str], *, after_version: int, to_version: int
) -> Iterator[pa.RecordBatch]:
    """`columns` of the changes of dataset versions (after, to], with `_change_type` and `_commit_version`,
    batch by batch, reading only those columns: the same two sources as `change_feed` (the base's change
    data feed before the change table, the change table after; its `update` rows read `update_postimage`)."""
    with delta_errors(table._what, table.uri, "read"):
        now = table._layout()
        if now.base is None or after_version >= to_version:
            return
        wanted = [*columns, "_change_type", COMMIT_VERSION]
        if after_version < now.offset - 1:
            base_end = min(to_version, now.offset - 1)
            feed = now.base.load_cdf(starting_version=after_version + 1, ending_version=base_end, columns=wanted)
            yield from pa.RecordBatchReader.from_stream(feed)
        if to_version >= now.offset and now.changes is not None:
            _, where = _versions(now, after_version, to_version)
            for batch in now.changes.to_pyarrow_dataset().to_batches(columns=wanted, filter=where):
                kinds = _postimage(batch.column("_change_type"))
                yield batch.set_column(batch.schema.get_field_index("_change_type"), "_change_type", kinds)


def _versions(now: Layout, after: int, end: int) -> tuple[int, pc.Expression]:
    """The change table's part of dataset versions (after, end]: the version it starts after, and its row filter."""
    low = max(after, now.offset - 1)
    where = (pc.field(COMMIT_VERSION) > pa.scalar(low, pa.int64())) & (
        pc.field(COMMIT_VERSION) <= pa.scalar(end, pa.int64())
    )
    return low, where


def _postimage(kinds: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A change row's `update` as the feed names it: `update_postimage` (the change table keeps no pre-images)."""
    return pc.replace_substring_regex(kinds, "^update$", "update_postimage")


def _change_rows(table: TableReader, now: Layout, after: int, end: int) -> pa.Table:
    """The change table's rows of dataset versions (after, end] as change-feed rows."""
    assert now.changes is not None
    low, where = _versions(now, after, end)
    rows = now.changes.to_pyarrow_dataset().to_table(filter=where)
    entries = now.changes.history(now.changes.version() - (low - now.offset))
    stamps = {now.offset + int(e["version"]): commit_time(e) for e in entries}
    kinds = _postimage(rows.column("_change_type"))
    when = pa.array([stamps.get(v) for v in rows.column(COMMIT_VERSION).to_pylist()], pa.timestamp("ms", tz="UTC"))
    data = rows.drop_columns([c for c in (RUN_SEQ, "_change_type", COMMIT_VERSION) if c in rows.column_names])
    if table.contract.deletes == "delete":
        data = data.drop_columns([DELETED])
    data = normalise(data, table.schema)
    return (
        data.append_column("_change_type", kinds.cast(pa.string()))
        .append_column("_commit_version", rows.column(COMMIT_VERSION).cast(pa.int64()))
        .append_column("_commit_timestamp", when)
    )


def _snapshot_feed(table: TableReader, end: int) -> pa.Table:
    snap = table.read(version=end)
    n = snap.num_rows
    stamp = _version_time(table, end)
    snap = snap.append_column("_change_type", pa.repeat(pa.scalar("insert", pa.string()), n))
    snap = snap.append_column("_commit_version", pa.repeat(pa.scalar(end, pa.int64()), n))
    return snap.append_column("_commit_timestamp", pa.repeat(pa.scalar(stamp, pa.timestamp("ms", tz="UTC")), n))


def _version_time(table: TableReader, version: int) -> datetime:
    """When dataset `version` was committed (its base or change-table commit)."""
    where, at = table.locate(version)
    dt = table._open_changes() if where else table._open()
    assert dt is not None
    for entry in dt.history(dt.version() - at + 1):
        if int(entry["version"]) == at:
            return commit_time(entry)
    raise LakeError(f"{table._what} at {table.uri}: the commit of version {version} is no longer in the history")


def normalise(table: pa.Table, schema: pa.Schema) -> pa.Table:
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


def cdf_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [
            *(f.with_nullable(True) for f in schema),
            pa.field("_change_type", pa.string()),
            pa.field("_commit_version", pa.int64()),
            pa.field("_commit_timestamp", pa.timestamp("ms", tz="UTC")),
        ],
        metadata=schema.metadata,
    )


def normalise_cdf(feed: pa.Table, schema: pa.Schema) -> pa.Table:
    data = normalise(feed.drop_columns(list(CDF_COLUMNS)), schema)
    return (
        data.append_column("_change_type", feed.column("_change_type").cast(pa.string()))
        .append_column("_commit_version", feed.column("_commit_version").cast(pa.int64()))
        .append_column("_commit_timestamp", pc.assume_timezone(feed.column("_commit_timestamp"), "UTC"))
    )
