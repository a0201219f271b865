"""Quarantine: rejected rows with their reasons, one slice per run, replaced (never duplicated) on re-run.

Every write is guarded like a curated commit (`_guard.py`): it lands as the version right after the one it
was decided on (read before the caller's fence), or is refused with `CommitRefused` and nothing of it is
in the log. A run displaced while it stalled inside its write can so never replace, nor add to, the slice
the worker that took its lock over wrote.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Collection, Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, write_deltalake

from lake._guard import Guard
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

    def version(self) -> int | None:
        """The quarantine table's version, None before its first write: what a `rewrite` is decided on."""
        with delta_errors(self._what, self.uri, "read"):
            dt = open_table(self.uri, self._options, self._what)
            return None if dt is None else dt.version()

    def write(
        self,
        rows: pa.Table | pa.RecordBatchReader,
        *,
        run_seq: int,
        run_id: str,
        fence: Callable[[], None] | None = None,
    ) -> None:
        """Replace run `run_seq`'s rejected rows with `rows` in ONE commit (overwrite where run_seq = k).

        A reader is streamed into the table batch by batch. The table's version is read first, then
        `fence` (when given) is called; the commit lands on that version or raises `CommitRefused`.
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
            if fence is not None:
                fence()
            slice_of = f"the quarantine slice of run {run_id} (sequence {int(run_seq)})"
            if first is None:
                if dt is not None:
                    guard = self._guard(dt, slice_of)
                    with guard.check():
                        dt.delete(f"run_seq = {int(run_seq)}", commit_properties=guard.properties(CommitProperties()))
            else:
                data = pa.RecordBatchReader.from_batches(schema, itertools.chain([first], batches))
                self._commit(dt, data, f"run_seq = {int(run_seq)}", self._guard(dt, slice_of))
        log.info("quarantined %s rows of run %s (seq %s) in %s", written, run_id, run_seq, self.uri)

    def read(
        self, *, run_seq: int | None = None, verdicts: Collection[str] | None = None, version: int | None = None
    ) -> pa.Table:
        """All quarantined rows, or one run's, or those with one of `verdicts` (pending, rejected, warned);
        at `version` when given (the newest otherwise)."""
        with delta_errors(self._what, self.uri, "read"):
            if version is None:
                dt = open_table(self.uri, self._options, self._what)
            else:
                dt = DeltaTable(self.uri, storage_options=self._options, version=version)
            if dt is None:
                return pa.schema([pa.field("run_seq", pa.int64()), pa.field("run_id", pa.string())]).empty_table()
            names = {f.name for f in dt.schema().fields}
            filters = [("verdict", "in", list(verdicts))] if verdicts is not None and "verdict" in names else None
            table = dt.to_pyarrow_table(filters=filters)
        if run_seq is not None:
            table = table.filter(pc.equal(table.column("run_seq"), run_seq))
        return table

    def rewrite(
        self,
        rows: pa.Table,
        *,
        run_seqs: Collection[int],
        decided_at: int | None,
        fence: Callable[[], None] | None = None,
    ) -> None:
        """Replace the slices of every run in `run_seqs` with `rows` (stamped rows) in ONE commit.

        Used to mark rows a later run re-checked and to write that run's own slice at once, so the
        quarantine is never seen half-updated. `rows` were decided on version `decided_at` (`version()`,
        read before the rows and before `fence`); the commit lands on it or raises `CommitRefused`.
        """
        seqs = sorted({int(s) for s in run_seqs})
        if not seqs:
            return
        predicate = f"run_seq IN ({', '.join(str(s) for s in seqs)})"
        with delta_errors(self._what, self.uri, "written"):
            dt = None if decided_at is None else DeltaTable(self.uri, storage_options=self._options, version=decided_at)
            if fence is not None:
                fence()
            self._commit(dt, rows, predicate, self._guard(dt, f"the quarantine rewrite of the slices of runs {seqs}"))
        log.info("rewrote %s quarantined rows of runs %s in %s", rows.num_rows, seqs, self.uri)

    def _guard(self, dt: DeltaTable | None, commit: str) -> Guard:
        """The guard of a slice write decided on `dt` (None: no quarantine table yet)."""
        redo = "re-run the ingest: it writes its slice again, the other worker's slice kept until then."
        return Guard(self._what, self.uri, self._options, None if dt is None else dt.version(), commit, redo)

    def _commit(
        self, dt: DeltaTable | None, data: pa.Table | pa.RecordBatchReader, predicate: str, guard: Guard
    ) -> None:
        """Create the table, or overwrite `predicate`'s rows of it at the version read, guarded."""
        props = guard.properties(CommitProperties())
        with guard.check():
            if dt is None:
                write_deltalake(self.uri, data, mode=guard.mode, storage_options=self._options, commit_properties=props)
            else:
                write_deltalake(
                    dt,
                    data,
                    mode="overwrite",
                    predicate=predicate,
                    schema_mode="merge",
                    storage_options=self._options,
                    commit_properties=props,
                )
