"""A compact set of key values: sorted 64-bit fingerprints, 8 bytes a key, built batch by batch.

Reference checks ask "does this ID exist in the person table?" for every row of a run. Holding the
4 M keys of the city's person table as an Arrow string column plus `is_in`'s hash table costs about
1 GB; their sorted fingerprints cost 32 MB and answer with a binary search (`numpy.searchsorted`).
Two different keys share a fingerprint with probability ~2^-64 per pair: over 4 M keys and 10 M
lookups the chance that one missing key is taken as present is about 2e-6 — and that rare error only
lets a row through a reference check (it never rejects a good row).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from lake._changes import fingerprints

__all__ = ["KeySet"]


def _prints(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Fingerprints of the values as text (so 42 and "42" are the same key)."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    return fingerprints([values])


def _sorted_distinct(prints: np.ndarray) -> np.ndarray:
    """`prints` sorted in place, duplicates dropped (a copy only when there are any; np.unique: 15x slower)."""
    prints.sort()
    if len(prints) < 2:
        return prints
    repeats = prints[1:] == prints[:-1]
    if not repeats.any():
        return prints
    kept: np.ndarray = prints[np.concatenate([[True], ~repeats])]
    return kept


class KeySet:
    """Sorted, distinct 64-bit fingerprints of key values (nulls are never members)."""

    def __init__(self, prints: np.ndarray) -> None:
        self._prints = _sorted_distinct(np.array(prints, dtype=np.uint64))  # our own copy, sorted in place

    @classmethod
    def _owning(cls, prints: np.ndarray) -> KeySet:
        """A set over `prints` (uint64, no other reference to it): sorted in place, not copied."""
        out = cls.__new__(cls)
        out._prints = _sorted_distinct(prints if prints.flags.writeable else prints.copy())
        return out

    @classmethod
    def from_batches(cls, columns: Iterable[pa.Array | pa.ChunkedArray]) -> KeySet:
        """Build from a stream of key columns (one batch at a time: only fingerprints are kept).

        At most 16 bytes a key while building (the batches' prints and their concatenation; sorted
        in place, and a primary key's prints, all distinct, are kept without another copy).
        """
        parts = []
        for column in columns:
            valid = column.drop_null()
            if len(valid):
                parts.append(_prints(valid))
        if not parts:
            return cls._owning(np.zeros(0, dtype=np.uint64))
        joined = parts[0] if len(parts) == 1 else np.concatenate(parts)
        parts.clear()
        return cls._owning(joined)

    @classmethod
    def of(cls, values: pa.Array | pa.ChunkedArray) -> KeySet:
        """Build from one array of key values."""
        return cls.from_batches([values])

    def __len__(self) -> int:
        return len(self._prints)

    @property
    def nbytes(self) -> int:
        return int(self._prints.nbytes)

    def union(self, other: KeySet) -> KeySet:
        """The keys of both sets."""
        return KeySet._owning(np.concatenate([self._prints, other._prints]))

    def contains(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Per value: true when it is a member; null values give null."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        n = len(values)
        if n == 0:
            return pa.array([], pa.bool_())
        found = np.zeros(n, dtype=bool)
        if len(self._prints):
            probe = _prints(values)
            at = np.searchsorted(self._prints, probe)
            found = self._prints[np.minimum(at, len(self._prints) - 1)] == probe
        mask = None if values.null_count == 0 else ~values.is_valid().to_numpy(zero_copy_only=False)
        return pa.array(found, pa.bool_(), mask=mask)
