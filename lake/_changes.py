"""Pure functions that prepare a change batch for MERGE: shape, last-occurrence-wins, clause SQL."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.errors import LakeError

__all__ = [
    "DELETED",
    "change_predicate",
    "fingerprints",
    "key_predicate",
    "last_occurrence",
    "repeated",
    "row_prints",
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


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def fingerprints(columns: Sequence[pa.Array | pa.ChunkedArray]) -> np.ndarray:
    """A 64-bit fingerprint per row of the key columns (FNV-1a over each value's bytes, vectorised
    position by position). Equal keys give equal fingerprints; different keys almost never do, and
    callers confirm equal fingerprints on the keys themselves."""
    out: np.ndarray | None = None
    with np.errstate(over="ignore"):
        for column in columns:
            arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            numbers = _as_int64(arr)
            if numbers is not None:
                h = numbers.fill_null(-1).to_numpy().view(np.uint64) * _FNV_PRIME
            else:
                h = _text_hash(arr if pa.types.is_string(arr.type) else arr.cast(pa.string()))
            out = h if out is None else (out ^ h) * _FNV_PRIME
    return out if out is not None else np.zeros(0, dtype=np.uint64)


def _as_int64(arr: pa.Array) -> pa.Array | None:
    """Integers, dates, times, timestamps and booleans as int64 (hashed without a detour through text)."""
    t = arr.type
    if pa.types.is_integer(t) or pa.types.is_timestamp(t) or pa.types.is_duration(t):
        return arr.cast(pa.int64())
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return arr.cast(pa.int32()).cast(pa.int64())
    if pa.types.is_date64(t) or pa.types.is_time64(t):
        return arr.cast(pa.int64())
    if pa.types.is_boolean(t):
        return arr.cast(pa.int8()).cast(pa.int64())
    return None


def row_prints(table: pa.Table, columns: Sequence[str]) -> np.ndarray:
    """A 64-bit fingerprint of each row's values in `columns` (a column the table lacks counts as null).

    Equal rows give equal prints; callers confirm equal prints on the values themselves. Like the key
    `fingerprints`, except that text is hashed eight bytes at a time (`_word_hash`): the first load
    prints every row it writes for the row index, so this is on its path."""
    n = table.num_rows
    out: np.ndarray | None = None
    with np.errstate(over="ignore"):
        for name in columns:
            if name not in table.column_names:
                h = np.zeros(n, dtype=np.uint64)  # as a null text column
            else:
                column = table.column(name)
                arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
                if pa.types.is_string(arr.type) or _as_int64(arr) is None:
                    h = _word_hash(arr if pa.types.is_string(arr.type) else arr.cast(pa.string()))
                else:
                    h = fingerprints([arr])
            out = h if out is None else (out ^ h) * _FNV_PRIME
    return out if out is not None else np.zeros(n, dtype=np.uint64)


_WORD_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _word_hash(arr: pa.Array) -> np.ndarray:
    """FNV-style over each value's bytes as little-endian 64-bit words (the last one zero-padded), seeded
    with its length; 0 for null. One function, three ways of computing it: fixed-width text as a word
    matrix, repeated values through a dictionary, the rest by gathering words at each value's offset."""
    n = len(arr)
    if n >= 4096 and not _fixed_width(arr):
        encoded = pc.dictionary_encode(arr)
        if len(encoded.dictionary) <= n // 4:
            codes = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
            h: np.ndarray = _word_hash(encoded.dictionary)[codes]
            if arr.null_count:
                h[~arr.is_valid().to_numpy(zero_copy_only=False)] = np.uint64(0)
            return h
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    raw = arr.buffers()[2]
    lo, hi = (int(offsets[0]), int(offsets[-1])) if n else (0, 0)
    data = np.frombuffer(raw, dtype=np.uint8)[lo:hi] if raw is not None else np.zeros(0, dtype=np.uint8)
    lengths = np.diff(offsets)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64) ^ (lengths.astype(np.uint64) * _GOLDEN)
    longest = int(lengths.max()) if n else 0
    words = (longest + 7) // 8
    if n and (lengths == longest).all():  # fixed width: a matrix of words, no gathers
        padded = np.zeros((n, words * 8), dtype=np.uint8)
        padded[:, :longest] = data.reshape(n, longest)
        matrix = padded.view(np.uint64)
        for j in range(words):
            h ^= matrix[:, j]
            h *= _FNV_PRIME
    elif words:
        flat = np.zeros(len(data) + 8, dtype=np.uint8)
        flat[: len(data)] = data
        unaligned = np.ndarray(shape=(len(flat) - 7,), dtype=np.uint64, buffer=flat.data, strides=(1,))
        starts = offsets[:-1] - lo
        for j in range(0, longest, 8):
            left = lengths - j
            word = unaligned[np.minimum(starts + j, len(unaligned) - 1)] & _WORD_MASKS[np.clip(left, 0, 8)]
            h = np.where(left > 0, (h ^ word) * _FNV_PRIME, h)
    if arr.null_count:
        h[~arr.is_valid().to_numpy(zero_copy_only=False)] = np.uint64(0)
    return h


def _text_hash(arr: pa.Array) -> np.ndarray:
    """`_string_hash`, through a dictionary when values repeat (names, addresses: hashed once each)."""
    if len(arr) < 4096 or _fixed_width(arr):
        return _string_hash(arr)
    encoded = pc.dictionary_encode(arr)
    if len(encoded.dictionary) > len(arr) // 4:
        return _string_hash(arr)
    codes = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
    h: np.ndarray = _string_hash(encoded.dictionary)[codes]
    if arr.null_count:
        h[~arr.is_valid().to_numpy(zero_copy_only=False)] = np.uint64(0)
    return h


def _fixed_width(arr: pa.Array) -> bool:
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    return (
        bool(n)
        and int(offsets[-1] - offsets[0]) == n * int(offsets[1] - offsets[0])
        and bool((np.diff(offsets) == offsets[1] - offsets[0]).all())
    )


def _string_hash(arr: pa.Array) -> np.ndarray:
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    data = arr.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    longest = int(lengths.max()) if n else 0
    if longest and (lengths == longest).all() and offsets[-1] - offsets[0] == n * longest:
        matrix = data[offsets[0] : offsets[-1]].reshape(n, longest)  # fixed width (ID numbers): no gathers
        for j in range(longest):
            h ^= matrix[:, j]
            h *= _FNV_PRIME
    else:
        for j in range(longest):
            has = j < lengths
            byte = data[np.where(has, starts + j, 0)].astype(np.uint64)
            h = np.where(has, (h ^ byte) * _FNV_PRIME, h)
    h ^= lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    if arr.null_count:
        h[~arr.is_valid().to_numpy(zero_copy_only=False)] = np.uint64(0)
    return h


def repeated(fingerprint: np.ndarray) -> np.ndarray:
    """Rows whose fingerprint occurs more than once (candidates for a repeated key); usually none."""
    ordered = np.sort(fingerprint)
    if not (ordered[1:] == ordered[:-1]).any():
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(fingerprint, kind="stable")
    ordered = fingerprint[order]
    same = ordered[1:] == ordered[:-1]
    flagged = np.zeros(len(ordered), dtype=bool)
    flagged[1:] |= same
    flagged[:-1] |= same
    return np.sort(order[flagged])


def last_occurrence(index: pa.Table, keys: Sequence[str]) -> np.ndarray | None:
    """Rows of `index` (key columns, one row per change) to keep so each key keeps its LAST
    occurrence, as a boolean mask over the index's rows; None when no key repeats."""
    n = index.num_rows
    if n == 0:
        return None
    indexed = index.select(list(keys)).append_column("__row", pa.array(np.arange(n, dtype=np.int64)))
    last = indexed.group_by(list(keys), use_threads=False).aggregate([("__row", "max")]).column("__row_max")
    if len(last) == n:
        return None
    keep = np.zeros(n, dtype=bool)
    keep[last.to_numpy()] = True
    return keep


def key_predicate(keys: Sequence[str]) -> str:
    """The MERGE join predicate on the primary key."""
    return " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in keys)


def change_predicate(compare: Sequence[str], new_columns: Sequence[str]) -> str:
    """True when a matched source row differs from the target row (so identical re-sends change nothing)."""
    # each term in parentheses: delta-rs 1.6's SQL parser binds IS DISTINCT FROM looser than OR
    parts = [f"(t.{_q(c)} IS DISTINCT FROM s.{_q(c)})" for c in compare]
    parts += [f"(s.{_q(c)} IS NOT NULL)" for c in new_columns]
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
