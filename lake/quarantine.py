"""Quarantine: rejected rows with their reasons, one slice per run, replaced (never duplicated) on re-run."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake

from lake._store import delta_errors, open_table
from schemas import Contract

__all__ = ["QuarantineTable"]

log = logging.getLogger(__name__)


class QuarantineTable:
    """The quarantine Delta table of one resource at `<root>/quarantine/<resource>`.

    Rows keep whatever columns the quality stage gives (source values, reasons) plus `run_seq`
    and `run_id`; new columns are merged into the schema.
    """

    def __init__(self, uri: str, contract: Contract, *, storage_options: Mapping[str, str] | None = None) -> None:
        self.uri = uri
        self.contract = contract
        self._options = dict(storage_options or {})
        self._what = f"quarantine table '{contract.resource}'"

    def write(self, rows: pa.Table, *, run_seq: int, run_id: str) -> None:
        """Replace run `run_seq`'s rejected rows with `rows` in ONE commit (overwrite where run_seq = k)."""
        rows = rows.drop_columns([c for c in ("run_seq", "run_id") if c in rows.column_names])
        rows = rows.append_column("run_seq", pa.array([run_seq] * rows.num_rows, pa.int64()))
        rows = rows.append_column("run_id", pa.array([run_id] * rows.num_rows, pa.string()))
        with delta_errors(self._what, self.uri, "written"):
            dt = open_table(self.uri, self._options, self._what)
            if dt is None:
                if rows.num_rows:
                    write_deltalake(self.uri, rows, mode="append", storage_options=self._options)
            elif rows.num_rows == 0:
                dt.delete(f"run_seq = {int(run_seq)}")
            else:
                write_deltalake(
                    dt,
                    rows,
                    mode="overwrite",
                    predicate=f"run_seq = {int(run_seq)}",
                    schema_mode="merge",
                    storage_options=self._options,
                )
        log.info("quarantined %s rows of run %s (seq %s) in %s", rows.num_rows, run_id, run_seq, self.uri)

    def read(self, *, run_seq: int | None = None) -> pa.Table:
        """All quarantined rows, or one run's."""
        with delta_errors(self._what, self.uri, "read"):
            dt = open_table(self.uri, self._options, self._what)
            if dt is None:
                return pa.schema([pa.field("run_seq", pa.int64()), pa.field("run_id", pa.string())]).empty_table()
            table = dt.to_pyarrow_table()
        if run_seq is not None:
            table = table.filter(pc.equal(table.column("run_seq"), run_seq))
        return table
