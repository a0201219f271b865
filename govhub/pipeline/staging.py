"""The pipeline's view of a run's staging area: batches in, batches out, schemas settled once."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType

import pyarrow as pa

from lake import StagingArea
from lake.staging import StagedWriter

__all__ = ["OutputWriter", "Staging"]


def _settled(schema: pa.Schema) -> pa.Schema:
    """A column that was all-null in the first batch is typed as string so later batches fit."""
    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])


def _relaxed(schema: pa.Schema) -> pa.Schema:
    """Every field nullable: an accepted source deletion carries only its key, other fields may be null."""
    return pa.schema([f.with_nullable(True) for f in schema], metadata=schema.metadata)


class Staging:
    """Named Arrow IPC files of one run (`extracted`, `accepted`, `rejected`, `warned`)."""

    def __init__(self, area: StagingArea) -> None:
        self.area = area

    def write_batches(self, name: str, batches: Iterable[pa.RecordBatch]) -> int:
        """Stage a stream whose schema is only known from its first batch; returns rows written."""
        iterator = iter(batches)
        first = next(iterator, None)
        if first is None:
            return 0
        return self.area.write(name, itertools.chain([first], iterator), _settled(first.schema))

    def output(
        self, name: str, schema: pa.Schema | None = None, *, prepare: Callable[[pa.Table], pa.Table] | None = None
    ) -> OutputWriter:
        """A stage output written table by table as they come; nothing is staged when no table has rows."""
        return OutputWriter(self.area, name, schema, prepare)

    def batches(self, name: str) -> Iterator[pa.RecordBatch]:
        """The staged batches of a name; none when nothing was staged."""
        if self.area.exists(name):
            yield from self.area.reader(name)

    def reader(self, name: str, schema: pa.Schema, columns: Sequence[str] | None = None) -> pa.RecordBatchReader:
        """A reader over a staged name (only `columns` when given), empty with `schema` when nothing was staged."""
        if self.area.exists(name):
            return self.area.reader(name, columns)
        empty = pa.schema([schema.field(c) for c in columns]) if columns is not None else schema
        return pa.RecordBatchReader.from_batches(empty, iter(()))

    def source(self, name: str, schema: pa.Schema) -> Callable[[Sequence[str] | None], pa.RecordBatchReader]:
        """A re-readable staged name: each call opens a fresh reader (of some columns only, if asked)."""
        return lambda columns=None: self.reader(name, schema, columns)

    def concatenated(self, names: list[str]) -> pa.RecordBatchReader | None:
        """The staged names one after the other as one stream (schemas unified), or None when none exists."""
        present = [n for n in names if self.area.exists(n)]
        if not present:
            return None
        schemas = [self.area.reader(n).schema for n in present]
        schema = pa.unify_schemas(schemas, promote_options="permissive")

        def batches() -> Iterator[pa.RecordBatch]:
            for n in present:
                for batch in self.area.reader(n):
                    yield _conform(batch, schema)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def clear(self) -> None:
        self.area.clear()


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch in `schema`: missing columns as nulls, columns in schema order and type."""
    if batch.schema.equals(schema):
        return batch
    columns = [
        batch.column(f.name).cast(f.type) if f.name in batch.schema.names else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


class OutputWriter:
    """A stage output staged table by table: its schema is settled by the first table with rows."""

    def __init__(
        self, area: StagingArea, name: str, schema: pa.Schema | None, prepare: Callable[[pa.Table], pa.Table] | None
    ) -> None:
        self.area, self.name, self.schema, self._prepare = area, name, schema, prepare
        self._writer: StagedWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        """Stage a table's rows (tables without rows are skipped)."""
        if not table.num_rows:
            return
        if self._prepare is not None:
            table = self._prepare(table)
        if self._writer is None:
            self.schema = self.schema or _relaxed(table.schema)
            self._writer = self.area.writer(self.name, self.schema)
        self._writer.write(table)
        self.rows += table.num_rows

    def __enter__(self) -> OutputWriter:
        self.area.remove(self.name)  # a re-run stage replaces its output, even with no rows
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._writer is not None:
            self._writer.__exit__(kind, error, tb)
