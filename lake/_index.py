"""Fingerprints of a table's rows by key: what a run's change is compared with (insert, update, re-send).

A run changes 1 % of the keys; knowing which of them the table holds, and whether a sent row equals
the stored one, needs the state before. `RowIndex` keeps, per key, 8 bytes of key fingerprint, 8 of
row fingerprint and a state byte (16 MB for 1 M rows). The base's index is built by one scan and
cached per base version in the process (a warm worker builds it once per compaction); the pending
changes' index is rebuilt from the change table, which compaction keeps small. Equal row prints are
confirmed on the rows themselves before a sent row is dropped as a re-send.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lake._changes import DELETED, fingerprints, row_prints

__all__ = ["ABSENT", "LIVE", "TOMBSTONED", "IndexTap", "RowIndex", "cached_index", "peek_index"]

ABSENT, LIVE, TOMBSTONED = 0, 1, 2
_CACHE: OrderedDict[tuple[str, int, tuple[str, ...]], RowIndex] = OrderedDict()
_CACHE_ENTRIES = 4


@dataclass
class RowIndex:
    """Sorted key prints, with each key's row print and state (LIVE, TOMBSTONED, or ABSENT: deleted)."""

    keys: np.ndarray
    rows: np.ndarray
    state: np.ndarray
    columns: tuple[str, ...]  # the value columns the row prints cover

    @classmethod
    def build(
        cls,
        tables: Iterable[pa.Table],
        keys: Sequence[str],
        types: Sequence[pa.DataType],
        columns: Sequence[str],
        *,
        deleted_state: int = TOMBSTONED,
    ) -> RowIndex:
        """Index the rows of `tables` (key columns, `columns`, optionally `_deleted`: rows marked so get
        `deleted_state`)."""
        key_parts, row_parts, state_parts = [], [], []
        for table in tables:
            key_parts.append(fingerprints([table.column(k).cast(t) for k, t in zip(keys, types, strict=True)]))
            row_parts.append(row_prints(table, columns))
            state = np.full(table.num_rows, LIVE, dtype=np.int8)
            if DELETED in table.column_names:
                flag = table.column(DELETED).to_numpy(zero_copy_only=False).astype(bool)
                state[flag] = deleted_state
            state_parts.append(state)
        prints = np.concatenate(key_parts) if key_parts else np.zeros(0, dtype=np.uint64)
        order = np.argsort(prints, kind="stable")
        return cls(
            prints[order],
            (np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.uint64))[order],
            (np.concatenate(state_parts) if state_parts else np.zeros(0, dtype=np.int8))[order],
            tuple(columns),
        )

    def merged(self, newer: RowIndex) -> RowIndex:
        """This index with `newer`'s entries added, replacing the entries of the same keys."""
        if not len(self.keys):
            return newer
        at = np.minimum(np.searchsorted(newer.keys, self.keys), max(len(newer.keys) - 1, 0))
        kept = ~(newer.keys[at] == self.keys) if len(newer.keys) else np.ones(len(self.keys), dtype=bool)
        keys = np.concatenate([self.keys[kept], newer.keys])
        order = np.argsort(keys, kind="stable")
        rows = np.concatenate([self.rows[kept], newer.rows])[order]
        state = np.concatenate([self.state[kept], newer.state])[order]
        return RowIndex(keys[order], rows, state, self.columns)

    def lookup(self, prints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per probe print: found, the row print and the state (ABSENT where not found)."""
        n = len(prints)
        if not len(self.keys):
            return np.zeros(n, dtype=bool), np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.int8)
        order = np.argsort(prints)  # sorted probes walk the index in order (a third of the time at 1 M keys)
        at = np.empty(n, dtype=np.int64)
        at[order] = np.searchsorted(self.keys, prints[order])
        np.minimum(at, len(self.keys) - 1, out=at)
        found = self.keys[at] == prints
        return found, np.where(found, self.rows[at], 0), np.where(found, self.state[at], ABSENT).astype(np.int8)


def cached_index(uri: str, version: int, columns: Sequence[str], build: Callable[[], RowIndex]) -> RowIndex:
    """The index of `uri` at `version` over `columns`, built once per process by `build()`."""
    key = (uri, version, tuple(columns))
    index = _CACHE.get(key)
    if index is None:
        index = build()
        _CACHE[key] = index
        while len(_CACHE) > _CACHE_ENTRIES:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return index


def peek_index(uri: str, version: int, columns: Sequence[str]) -> RowIndex | None:
    """The cached index of `uri` at `version`, if this process has built it."""
    return _CACHE.get((uri, version, tuple(columns)))


_TAP_ROWS = 128 * 1024


class IndexTap:
    """The row index of the rows a first load streams into the base, fingerprinted as they pass (the
    load reads nothing twice). `fields` are the key and value columns the prints cover, in batch types.
    With `key_prints` (the load's own key prints of the streamed rows, in order) only the row prints
    are computed, into one array of that length (no list of parts to join at the end)."""

    def __init__(self, keys: Sequence[str], key_prints: np.ndarray | None = None) -> None:
        self.keys = list(keys)
        self.key_prints = key_prints
        self._seen = 0
        self.fields: tuple[list[pa.Field], list[pa.Field]] | None = None
        self._keys: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._row_prints = None if key_prints is None else np.zeros(len(key_prints), dtype=np.uint64)
        self.seconds = 0.0  # spent fingerprinting (what the index adds to the load, before its write)

    def wrap(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """`batches`, unchanged, each one's key and row prints kept on the way."""
        for batch in batches:
            if self.fields is None:
                values = [f for f in batch.schema if f.name not in self.keys and f.name != DELETED]
                self.fields = ([batch.schema.field(k) for k in self.keys], values)
            started = time.perf_counter()
            table = pa.Table.from_batches([batch])
            names = [f.name for f in self.fields[1]]
            # a slice at a time: the hashing's temporaries stay small however large the load's batches are
            parts = [row_prints(table.slice(i, _TAP_ROWS), names) for i in range(0, table.num_rows, _TAP_ROWS)]
            prints = parts[0] if len(parts) == 1 else np.concatenate([np.zeros(0, dtype=np.uint64), *parts])
            n, at = batch.num_rows, self._seen
            if self._row_prints is not None and at + n <= len(self._row_prints):
                self._row_prints[at : at + n] = prints
            elif self._row_prints is None:
                self._keys.append(fingerprints([table.column(k) for k in self.keys]))
                self._rows.append(prints)
            self._seen += n
            self.seconds += time.perf_counter() - started
            yield batch

    def index(self) -> RowIndex | None:
        """The live rows seen, as a sorted index (None: the load's key prints and its rows disagree)."""
        if self.key_prints is not None and self._row_prints is not None:
            if self._seen != len(self.key_prints):
                return None
            keys, rows = self.key_prints, self._row_prints
        else:
            keys = np.concatenate(self._keys) if self._keys else np.zeros(0, dtype=np.uint64)
            rows = np.concatenate(self._rows) if self._rows else np.zeros(0, dtype=np.uint64)
        self.key_prints = self._row_prints = None  # let go as soon as the sorted copies exist
        self._keys, self._rows = [], []
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        rows = rows[order]
        del order
        values = tuple(f.name for f in self.fields[1]) if self.fields else ()
        return RowIndex(keys, rows, np.full(len(keys), LIVE, dtype=np.int8), values)
