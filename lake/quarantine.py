"""Quarantine: rejected rows with their reasons, one slice per run, replaced (never duplicated) on re-run."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection, Iterator, Mapping

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

    def write(self, rows: pa.Table | pa.RecordBatchReader, *, run_seq: int, run_id: str) -> None:
        """Replace run `run_seq`'s rejected rows with `rows` in ONE commit (overwrite where run_seq = k).

        A reader is streamed into the table batch by batch.
        """
        reader = (
            rows
            if isinstance(rows, pa.RecordBatchReader)
            else pa.RecordBatchReader.from_batches(rows.schema, rows.to_batches())
        )
        columns = [c for c in reader.schema.names if c not in ("run_seq", "run_id")]
        schema = pa.schema([reader.schema.field(c) for c in columns], metadata=reader.schema.metadata)
        schema = schema.append(pa.field("run_seq", pa.int64())).append(pa.field("run_id", pa.string()))
        written = 0

        def stamped() -> Iterator[pa.RecordBatch]:
            nonlocal written
            for batch in reader:
                if not batch.num_rows:
                    continue
                n = batch.num_rows
                written += n
                arrays = [
                    *(batch.column(c) for c in columns),
                    pa.array([run_seq] * n, pa.int64()),
                    pa.array([run_id] * n, pa.string()),
                ]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)

        batches = stamped()
        first = next(batches, None)
        with delta_errors(self._what, self.uri, "written"):
            dt = open_table(self.uri, self._options, self._what)
            if first is None:
                if dt is not None:
                    dt.delete(f"run_seq = {int(run_seq)}")
            else:
                data = pa.RecordBatchReader.from_batches(schema, itertools.chain([first], batches))
                if dt is None:
                    write_deltalake(self.uri, data, mode="append", storage_options=self._options)
                else:
                    write_deltalake(
                        dt,
                        data,
                        mode="overwrite",
                        predicate=f"run_seq = {int(run_seq)}",
                        schema_mode="merge",
                        storage_options=self._options,
                    )
        log.info("quarantined %s rows of run %s (seq %s) in %s", written, run_id, run_seq, self.uri)

    def read(self, *, run_seq: int | None = None, verdicts: Collection[str] | None = None) -> pa.Table:
        """All quarantined rows, or one run's, or those with one of `verdicts` (pending, rejected, warned)."""
        with delta_errors(self._what, self.uri, "read"):
            dt = open_table(self.uri, self._options, self._what)
            if dt is None:
                return pa.schema([pa.field("run_seq", pa.int64()), pa.field("run_id", pa.string())]).empty_table()
            names = {f.name for f in dt.schema().fields}
            filters = [("verdict", "in", list(verdicts))] if verdicts is not None and "verdict" in names else None
            table = dt.to_pyarrow_table(filters=filters)
        if run_seq is not None:
            table = table.filter(pc.equal(table.column("run_seq"), run_seq))
        return table

    def rewrite(self, rows: pa.Table, *, run_seqs: Collection[int]) -> None:
        """Replace the slices of every run in `run_seqs` with `rows` (stamped rows) in ONE commit.

        Used to mark rows a later run re-checked and to write that run's own slice at once, so the
        quarantine is never seen half-updated.
        """
        seqs = sorted({int(s) for s in run_seqs})
        if not seqs:
            return
        predicate = f"run_seq IN ({', '.join(str(s) for s in seqs)})"
        with delta_errors(self._what, self.uri, "written"):
            dt = open_table(self.uri, self._options, self._what)
            if dt is None:
                write_deltalake(self.uri, rows, mode="append", storage_options=self._options)
            else:
                write_deltalake(
                    dt, rows, mode="overwrite", predicate=predicate, schema_mode="merge", storage_options=self._options
                )
        log.info("rewrote %s quarantined rows of runs %s in %s", rows.num_rows, seqs, self.uri)
