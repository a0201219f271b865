"""Pure functions that prepare a change batch for MERGE: shape, last-occurrence-wins, clause SQL."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from schemas.errors import LakeError

__all__ = [
    "DELETED",
    "change_predicate",
    "dedup_last",
    "drop_unknown_deletes",
    "key_predicate",
    "shape_changes",
]

DELETED = "_deleted"


def _q(name: str) -> str:
    """Quote a column name for delta-rs SQL."""
    return '"' + name.replace('"', '""') + '"'


def shape_changes(changes: pa.Table, schema: pa.Schema, *, evolve: bool, table: str) -> pa.Table:
    """Cast the contract columns to the contract's types and add a non-null `_deleted` (default false).

    Columns the contract does not know are kept only when `evolve` is true; other `_`-prefixed
    system columns (`_source_file`...) are dropped.
    """
    missing = [f.name for f in schema if f.name not in changes.column_names]
    if missing:
        raise LakeError(f"changes for {table} lack contract column(s) {missing}; pass every contract field")
    extra = [n for n in changes.column_names if n not in schema.names and not n.startswith("_")]
    if extra and not evolve:
        raise LakeError(
            f"changes for {table} carry column(s) {extra} the contract does not define; "
            "add them to the contract or use schema_drift: evolve"
        )
    columns, fields = [], []
    for f in schema:
        col = changes.column(f.name)
        if col.type != f.type:
            try:
                col = col.cast(f.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise LakeError(f"changes for {table}: column '{f.name}' cannot be cast to {f.type}: {e}") from e
        columns.append(col)
        fields.append(f.with_nullable(True))
    for name in extra:
        columns.append(changes.column(name))
        fields.append(changes.schema.field(name).with_nullable(True))
    if DELETED in changes.column_names:
        deleted = pc.fill_null(changes.column(DELETED).cast(pa.bool_()), False)
    else:
        deleted = pa.chunked_array([pa.array([False] * changes.num_rows, pa.bool_())])
    columns.append(deleted)
    fields.append(pa.field(DELETED, pa.bool_(), nullable=False))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def dedup_last(changes: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Keep only the last occurrence of each key (the pipeline sends changes in source order)."""
    if changes.num_rows == 0:
        return changes
    if len(keys) == 1 and pc.count_distinct(changes.column(keys[0]), mode="all").as_py() == changes.num_rows:
        return changes  # no duplicates: no copy
    indexed = changes.select(list(keys)).append_column("__row", pa.array(range(changes.num_rows), pa.int64()))
    last = indexed.group_by(list(keys), use_threads=False).aggregate([("__row", "max")]).column("__row_max")
    if len(last) == changes.num_rows:
        return changes
    return changes.take(pc.take(last, pc.sort_indices(last)))  # keep source order


def drop_unknown_deletes(changes: pa.Table, existing_keys: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Drop delete rows whose key the table does not hold (deleting nothing is a no-op).

    delta-rs 1.6 fails a MERGE when a source row matches no clause and the target has NOT NULL
    columns, so such rows must not reach the MERGE.
    """
    deleted = changes.column(DELETED)
    if not pc.any(deleted).as_py():
        return changes
    if len(keys) == 1:  # hash the few delete keys and probe the table's keys (a join would hash them all)
        key = keys[0]
        wanted = changes.column(key).filter(deleted).combine_chunks()
        held = existing_keys.column(key)
        held = held.filter(pc.is_in(held, value_set=wanted))
        unknown_mask = pc.and_(deleted, pc.invert(pc.is_in(changes.column(key), value_set=held.combine_chunks())))
        return changes.filter(pc.invert(unknown_mask)) if pc.any(unknown_mask).as_py() else changes
    rows = pa.array(range(changes.num_rows), pa.int64())
    probe = changes.select(list(keys)).append_column("__row", rows).filter(deleted)
    target = existing_keys.select(list(keys))
    unknown = probe.join(target, list(keys), join_type="left anti").column("__row")
    if len(unknown) == 0:
        return changes
    return changes.filter(pc.invert(pc.is_in(rows, value_set=unknown.combine_chunks())))


def key_predicate(keys: Sequence[str]) -> str:
    """The MERGE join predicate on the primary key."""
    return " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in keys)


def change_predicate(compare: Sequence[str], new_columns: Sequence[str]) -> str:
    """True when a matched source row differs from the target row (so identical re-sends change nothing)."""
    # each term in parentheses: delta-rs 1.6's SQL parser binds IS DISTINCT FROM looser than OR
    parts = [f"(t.{_q(c)} IS DISTINCT FROM s.{_q(c)})" for c in compare]
    parts += [f"(s.{_q(c)} IS NOT NULL)" for c in new_columns]
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
