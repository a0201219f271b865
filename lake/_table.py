"""What every side of a curated table shares: where it lives, its schema, its state and its commit guard.

`CuratedTable` is this base plus its sides (`_commit.py`, `_compact.py`, `_read.py`, `_merge.py`,
`_indexed.py`), each a class of its own on top of it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
from deltalake import DeltaTable

from lake._changes import DELETED
from lake._feed import normalise
from lake._guard import Guard
from lake._state import OFFSET_APP, SYSTEM_COLUMNS, Layout, changes_uri, resolve
from lake._store import delta_errors, open_table
from schemas import Contract, arrow_schema

__all__ = ["TableBase"]


class TableBase:
    """A curated table's location, schema (see `CuratedTable`), state at a version and commit guard."""

    def __init__(self, uri: str, contract: Contract, *, storage_options: Mapping[str, str] | None = None) -> None:
        self.uri = uri
        self.contract = contract
        self._options = dict(storage_options or {})
        self._what = f"curated table '{contract.resource}'"
        schema = arrow_schema(contract)
        if contract.deletes == "tombstone":
            schema = schema.append(pa.field(DELETED, pa.bool_(), nullable=False))
        self.schema = schema
        self._target_file_size: int | None = None  # first-load file size (bytes); bench/tuning only

    @property
    def storage_options(self) -> dict[str, str]:
        """The delta-rs storage options the table is opened with (empty for a local folder)."""
        return dict(self._options)

    def _open(self) -> DeltaTable | None:
        return open_table(self.uri, self._options, self._what)

    def _open_changes(self) -> DeltaTable | None:
        return open_table(changes_uri(self.uri), self._options, f"{self._what} (change table)")

    def _layout(self, version: int | None = None) -> Layout:
        return resolve(self.uri, self._options, self._what, version)

    def exists(self) -> bool:
        """True once the first commit has created the table."""
        return self._open() is not None

    def version(self) -> int | None:
        """The current dataset version, or None before the first commit."""
        with delta_errors(self._what, self.uri, "read"):
            return self._layout().version

    def locate(self, version: int) -> tuple[str, int]:
        """Where dataset `version` was committed: ("", base version) or ("_changes", change-table version)."""
        changes = self._open_changes()
        offset = None if changes is None else changes.transaction_version(OFFSET_APP)
        if offset is None or version < offset:
            return "", version
        return "_changes", version - offset

    def _state_schema(self, layout: Layout) -> pa.Schema:
        """The columns of the state: the base's (contract types) and any the change table added."""
        schema = self.schema
        if layout.base is not None:
            schema = normalise(pa.schema(layout.base.schema().to_arrow()).empty_table(), self.schema).schema
        if layout.changes is not None:
            stored = normalise(pa.schema(layout.changes.schema().to_arrow()).empty_table(), self.schema).schema
            extra = [
                f.with_nullable(True) for f in stored if f.name not in schema.names and f.name not in SYSTEM_COLUMNS
            ]
            schema = pa.schema([*schema, *extra], metadata=schema.metadata)
        return schema

    def _guard(self, uri: str, table: DeltaTable | None, commit: str, redo: str) -> Guard:
        """The guard of a commit to `uri` decided against `table` (None: no table there yet)."""
        what = self._what if uri == self.uri else f"{self._what} (change table)"
        return Guard(what, uri, self._options, None if table is None else table.version(), commit, redo)
