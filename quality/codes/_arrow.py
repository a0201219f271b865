"""Arrow/numpy plumbing shared by the validators: fixed-width byte matrices and reason arrays.

A string column is read through its offsets and data buffers as an (n, width) uint8 matrix, so
every check is a numpy operation over all rows at once; no Python code runs per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "DIGIT",
    "INVALID",
    "ArrayLike",
    "char_matrix",
    "from_codes",
    "normalize_codes",
    "per_chunk",
    "valid_from_reasons",
    "valid_mask",
]

ArrayLike = pa.Array | pa.ChunkedArray

INVALID = 255
# byte -> digit value, INVALID for anything else
DIGIT = np.full(256, INVALID, dtype=np.uint8)
DIGIT[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10, dtype=np.uint8)


def _as_string(arr: pa.Array) -> pa.Array:
    """Cast to string/large_string when needed (string_view, dictionary, integers...)."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr
    return arr.cast(pa.large_string() if pa.types.is_large_binary(arr.type) else pa.string())


def char_matrix(arr: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, mask): the (n, width) bytes of the rows whose UTF-8 length is `width`.

    `rows` holds only the masked rows (in order); `mask` marks them among all n rows (nulls
    are never in the mask). A multi-byte character makes the byte length differ from the
    character count, but its bytes are >= 0x80 and fail every alphabet check anyway.
    """
    arr = _as_string(arr)
    n = len(arr)
    bufs = arr.buffers()
    otype = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=otype, count=arr.offset + n + 1)[arr.offset :]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    mask = lengths == width
    if arr.null_count:
        mask &= valid_mask(arr)
    start = int(offsets[0])
    m = int(mask.sum())
    if m and int(offsets[-1]) - start == m * width:
        # only the masked rows hold bytes (the rest are null or empty): zero-copy reshape
        return data[start : start + m * width].reshape(m, width), mask
    if m == 0:
        return np.empty((0, width), dtype=np.uint8), mask
    # sliding-window view: gathering whole 18-byte rows beats gathering 18 x n single bytes
    windows = np.lib.stride_tricks.sliding_window_view(data, width)
    return windows[offsets[:-1][mask]], mask


def valid_mask(arr: pa.Array) -> np.ndarray:
    """Boolean numpy mask of the non-null rows of an Array."""
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    return pc.is_valid(arr).to_numpy(zero_copy_only=False)


def from_codes(codes: np.ndarray, labels: Sequence[str | None], *, nulls: np.ndarray | None = None) -> pa.Array:
    """Map small integer codes to a string array via `labels` (a None label gives null).

    `nulls` (bool mask) forces null output where True, whatever the code.
    """
    indices = pa.array(codes.astype(np.int8, copy=False), mask=nulls)
    return pc.take(pa.array(labels, type=pa.string()), indices)


def per_chunk(func: Callable[[pa.Array], pa.Array], values: ArrayLike) -> pa.Array:
    """Apply an Array -> Array function to an Array or to each chunk of a ChunkedArray."""
    if isinstance(values, pa.ChunkedArray):
        chunks = [func(chunk) for chunk in values.chunks]
        if not chunks:
            return func(pa.array([], type=values.type))
        return chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks)
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string())
    return func(values)


def normalize_codes(values: ArrayLike) -> pa.Array:
    """Clean code strings before validation: NFKC (full-width -> ASCII), trim whitespace, upper-case.

    The validators are strict about the stored form (a lowercase `x` or a stray space is a
    "format" failure, since keys that differ only in case would duplicate people); run this
    first where the contract allows cleaning.
    """

    def _one(arr: pa.Array) -> pa.Array:
        arr = _as_string(arr)
        return pc.utf8_upper(pc.utf8_trim_whitespace(pc.utf8_normalize(arr, form="NFKC")))

    return per_chunk(_one, values)


def valid_from_reasons(reasons: pa.Array, values: ArrayLike) -> pa.BooleanArray:
    """Boolean validity from a reason array (null reason = valid); null input stays null."""
    valid = reasons.is_null().to_numpy(zero_copy_only=False)
    if isinstance(values, pa.ChunkedArray):
        nulls = np.concatenate([~valid_mask(c) for c in values.chunks] or [np.empty(0, dtype=bool)])
    elif isinstance(values, pa.Array):
        nulls = ~valid_mask(values)
    else:
        nulls = ~valid_mask(pa.array(values, type=pa.string()))
    return pa.array(valid, mask=nulls)
