"""What a run appends to the change table: its kept rows classified against the state before.

Each sent row is compared with the key's current state (the pending changes' index first, then the
base's): a new key is an `insert`, a held key an `update` (a revived tombstone too), a deletion of a
held key a `delete` (for `deletes: tombstone` an `update` carrying the stored values and
`_deleted=true`). Deletions of unknown keys and rows equal to the stored row (confirmed on the
values, not only the fingerprints) are dropped, so a re-sent batch appends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake._changes import DELETED, fingerprints, row_prints
from lake._index import ABSENT, LIVE, TOMBSTONED, RowIndex
from lake._state import CHANGE_TYPE

__all__ = ["Decision", "decide"]

INSERT, UPDATE, DELETE = "insert", "update", "delete"


@dataclass
class Decision:
    """The change rows to append (data columns, `_deleted`, `_change_type`) and their counts."""

    rows: pa.Table
    inserted: int
    updated: int
    deleted: int
    index: RowIndex  # the appended rows as a pending-changes index entry (key print, row print, state)


def _key_table(table: pa.Table, keys: Sequence[str], rows: np.ndarray) -> pa.Table:
    return table.select(list(keys)).take(pa.array(rows))


def _aligned(stored: pa.Table, probe: pa.Table, keys: Sequence[str]) -> tuple[pa.Table, np.ndarray]:
    """Rows of `stored` in the order of `probe`'s keys, and which probe rows were found."""
    n = probe.num_rows
    numbered = stored.append_column("__s", pa.array(np.arange(stored.num_rows, dtype=np.int64)))
    lookup = probe.select(list(keys)).append_column("__p", pa.array(np.arange(n, dtype=np.int64)))
    joined = lookup.join(numbered.select([*keys, "__s"]), list(keys), join_type="inner")
    at = np.full(n, -1, dtype=np.int64)
    at[joined.column("__p").to_numpy()] = joined.column("__s").to_numpy()
    found = at >= 0
    return stored.take(pa.array(np.where(found, at, 0))), found


def _equal_rows(a: pa.Table, b: pa.Table, columns: Sequence[str]) -> np.ndarray:
    """Per row: equal in every column (two nulls are equal)."""
    same = np.ones(a.num_rows, dtype=bool)
    for name in columns:
        x = a.column(name) if name in a.column_names else pa.nulls(a.num_rows)
        y = b.column(name) if name in b.column_names else pa.nulls(b.num_rows)
        if pa.types.is_null(x.type) and pa.types.is_null(y.type):
            continue
        if pa.types.is_null(x.type):
            x = pa.nulls(a.num_rows, y.type)
        elif pa.types.is_null(y.type):
            y = pa.nulls(b.num_rows, x.type)
        elif x.type != y.type:
            y = y.cast(x.type)
        both_null = pc.and_(pc.is_null(x), pc.is_null(y))
        equal = pc.or_(pc.fill_null(pc.equal(x, y), False), both_null)
        same &= np.asarray(equal.to_numpy(zero_copy_only=False), dtype=bool)
    return same


def decide(
    incoming: pa.Table,
    *,
    keys: Sequence[str],
    types: Sequence[pa.DataType],
    tombstone: bool,
    base: RowIndex,
    pending: RowIndex,
    lookup: Callable[[pa.Table], pa.Table],
) -> Decision:
    """Classify `incoming` (shaped changes, one row per key, with `_deleted`) against the state before.

    `lookup(keys)` reads the stored rows of the given keys (only called for rows whose fingerprints
    say "identical" and for tombstoned deletions, which carry the stored values).
    """
    n = incoming.num_rows
    columns = base.columns
    prints = fingerprints([incoming.column(k).cast(t) for k, t in zip(keys, types, strict=True)])
    rows = row_prints(incoming, columns)
    extra = np.zeros(n, dtype=bool)  # a value in a column the stored rows do not have: a change
    for name in incoming.column_names:
        if name not in columns and name not in keys and name != DELETED:
            extra |= incoming.column(name).is_valid().to_numpy(zero_copy_only=False)
    p_found, p_rows, p_state = pending.lookup(prints)
    _, b_rows, b_state = base.lookup(prints)
    prior = np.where(p_found, p_state, b_state)
    prior_rows = np.where(p_found, p_rows, b_rows)
    dead = incoming.column(DELETED).to_numpy(zero_copy_only=False).astype(bool)
    kind = np.full(n, "", dtype=object)
    kind[~dead & (prior == ABSENT)] = INSERT
    kind[~dead & (prior != ABSENT)] = UPDATE
    if tombstone:
        kind[dead & (prior == LIVE)] = UPDATE
    else:
        kind[dead & (prior == LIVE)] = DELETE
    maybe_same = ~dead & (prior == LIVE) & (rows == prior_rows) & ~extra
    needs_values = dead & (prior == LIVE) if tombstone else np.zeros(n, dtype=bool)
    asked = np.flatnonzero(maybe_same | needs_values)
    data = incoming
    if len(asked):
        probe = _key_table(incoming, keys, asked)
        stored, found = _aligned(lookup(probe), probe, keys)
        same = found & _equal_rows(incoming.take(pa.array(asked)), stored, columns)
        kind[asked[same & maybe_same[asked]]] = ""  # a re-send: nothing to append
        tomb = needs_values[asked]
        kind[asked[tomb & ~found]] = ""  # a fingerprint collision, not a held key: nothing to delete
        carry = asked[tomb & found]
        if len(carry):  # the tombstone keeps the stored values
            values = stored.filter(pa.array(tomb & found))
            data = _replace_rows(incoming, carry, values)
    keep = kind != ""
    out = data.filter(pa.array(keep))
    out = out.append_column(CHANGE_TYPE, pa.array(kind[keep].tolist(), pa.string()))
    counts = {k: int(np.count_nonzero(kind == k)) for k in (INSERT, UPDATE, DELETE)}
    state = np.full(n, LIVE, dtype=np.int8)
    state[dead] = TOMBSTONED if tombstone else ABSENT
    if len(asked) and tombstone:  # tombstones carry the stored values: their row prints are the stored rows'
        rows = np.where(dead, prior_rows, rows)
    order = np.argsort(prints[keep], kind="stable")
    index = RowIndex(prints[keep][order], rows[keep][order], state[keep][order], tuple(columns))
    return Decision(out, counts[INSERT], counts[UPDATE], counts[DELETE], index)


def _replace_rows(incoming: pa.Table, rows: np.ndarray, values: pa.Table) -> pa.Table:
    """`incoming` with the given rows' non-key values taken from `values` (in the same order)."""
    position = np.full(incoming.num_rows, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    take_new = position >= 0
    columns = []
    for field in incoming.schema:
        column = incoming.column(field.name).combine_chunks()
        if field.name in values.column_names and field.name != DELETED:
            stored = values.column(field.name).cast(field.type).combine_chunks()
            picked = stored.take(pa.array(np.where(take_new, position, 0)))
            column = pc.if_else(pa.array(take_new), picked, column)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=incoming.schema)
