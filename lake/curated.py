"""Curated Delta tables: one per resource, a base plus an append-only change table (merge-on-read).

The first load appends to the base; every later run appends its net changes to `_changes` in one
commit; the state is read as the base plus the last change per key; `compact()` MERGEs the pending
changes into the base (see `lake/README.md`, "Merge-on-read"). `CuratedTable` is made of its sides:

- `_table.py`: location, schema, the state's layout at a version, the commit guard;
- `_commit.py`: `commit` (the first load, or one change commit) and `last_commit`;
- `_read.py`: `read`, `scan`, `rows_for`, `key_set`, `row_count`, `history`, the change feed;
- `_compact.py`: `compact`, `pending_rows`, `compactions`;
- `_merge.py`: a change stream's passes and the compaction's MERGE;
- `_indexed.py`: the row indexes a commit classifies against, and when each is written.
"""

from __future__ import annotations

from lake._commit import TABLE_CONFIGURATION, CommitWriter
from lake._compact import CompactionInfo, Compactor
from lake._guard import CommitRefused
from lake._merge import ChangeSource
from lake._read import TableReader
from lake._record import CommitInfo

__all__ = ["TABLE_CONFIGURATION", "ChangeSource", "CommitInfo", "CommitRefused", "CompactionInfo", "CuratedTable"]


class CuratedTable(CommitWriter, Compactor, TableReader):
    """The curated Delta table of one resource at `<root>/curated/<resource>`.

    The table has the contract's Arrow schema (labels kept as field metadata, NOT NULL where the
    contract says `required`), the change data feed on, and for `deletes: tombstone` an extra
    non-null `_deleted` column.
    """
