"""Which row index a run classifies against: the process's cache, else the file beside the table, else a scan.

The base's index is written by the first load (from the fingerprints taken as its rows stream by) and by
each compaction (the old base's laid over with the compacted changes'); the pending changes' index by
each change commit (the one before with the run's entries laid over it). A cold worker therefore loads
two files instead of scanning the table. A file that is missing (a process killed between its data
commit and the index write, a table written before indexes were kept), stale or corrupt is rebuilt by a
scan, with a warning, and written again; writing is best effort (a failed write costs the next cold run
a scan, never a wrong count). `index_problems` compares the files with a fresh scan for `lake verify`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
from deltalake import DeltaTable

from lake._index import ABSENT, LIVE, RowIndex
from lake._index_file import IndexId, read_index, signature, write_index

__all__ = [
    "base_id",
    "columns_of",
    "compacted_index",
    "differences",
    "load_or_build",
    "pending_id",
    "save",
]

log = logging.getLogger(__name__)


def columns_of(schema: pa.Schema, keys: Sequence[str], deleted: str) -> tuple[list[str], str]:
    """The value columns an index of `schema` covers, and its signature (names and types)."""
    values = [n for n in schema.names if n not in keys and n != deleted]
    return values, signature([schema.field(k) for k in keys], [schema.field(v) for v in values])


def base_id(base: DeltaTable, columns: str) -> IndexId:
    """The identity of the base's index at the version `base` is loaded at."""
    return IndexId("base", str(base.metadata().id), base.version(), -1, columns)


def pending_id(changes: DeltaTable, version: int, compacted: int, columns: str) -> IndexId:
    """The identity of the pending changes' index at change-table `version`, over the base `compacted` into."""
    return IndexId("changes", str(changes.metadata().id), version, compacted, columns)


def save(uri: str, options: dict[str, str], ident: IndexId, index: RowIndex, *, compacted: int | None = None) -> None:
    """Write the index file (`compacted`: a compaction's, see `write_index`); a failure is logged (the next
    cold run rebuilds it by a scan)."""
    try:
        write_index(uri, options, ident, index, compacted=compacted)
    except (OSError, pa.ArrowException) as e:
        log.warning("could not write row index %s of %s (%s); the next cold run rebuilds it", ident.name, uri, e)


def load_or_build(
    uri: str, options: dict[str, str], ident: IndexId, values: Sequence[str], build: Callable[[], RowIndex]
) -> RowIndex:
    """The index from its file; else built by `build()` (a scan) and written for the next cold worker."""
    index = read_index(uri, options, ident, values)
    if index is None:
        index = build()
        save(uri, options, ident, index)
    return index


def compacted_index(old: RowIndex, pending: RowIndex) -> RowIndex:
    """The base's index after a compaction: the old base's with the compacted changes' entries laid over
    it (what the MERGE wrote); deleted keys are left out, as a scan of the new base would."""
    merged = old.merged(pending)
    held = merged.state != ABSENT
    return RowIndex(merged.keys[held], merged.rows[held], merged.state[held], merged.columns)


def differences(stored: RowIndex, scanned: RowIndex) -> str | None:
    """How a stored index differs from one built by a scan (None: it agrees). Deleted keys are absent in
    both senses; row prints are compared for live keys (a tombstone's values are not classified on)."""

    def held(index: RowIndex) -> RowIndex:
        keep = index.state != ABSENT
        return RowIndex(index.keys[keep], index.rows[keep], index.state[keep], index.columns)

    a, b = held(stored), held(scanned)
    if len(a.keys) != len(b.keys) or not np.array_equal(a.keys, b.keys):
        missing = int(np.count_nonzero(~np.isin(b.keys, a.keys)))
        extra = int(np.count_nonzero(~np.isin(a.keys, b.keys)))
        return f"{missing} key(s) of the table are not in it and {extra} it holds are not in the table"
    if not np.array_equal(a.state, b.state):
        return f"{int(np.count_nonzero(a.state != b.state))} key(s) have another state (live/tombstoned)"
    live = b.state == LIVE
    wrong = int(np.count_nonzero(a.rows[live] != b.rows[live]))
    return f"{wrong} live row(s) have another fingerprint" if wrong else None
