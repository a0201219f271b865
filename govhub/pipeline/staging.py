"""The pipeline's view of a run's staging area: batches in, batches out, schemas settled once."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import pyarrow as pa

from lake import StagingArea

__all__ = ["Staging"]


def _settled(schema: pa.Schema) -> pa.Schema:
    """A column that was all-null in the first batch is typed as string so later batches fit."""
    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])


def _relaxed(schema: pa.Schema) -> pa.Schema:
    """Every field nullable: an accepted source deletion carries only its key, other fields may be null."""
    return pa.schema([f.with_nullable(True) for f in schema], metadata=schema.metadata)


class Staging:
    """Named Parquet files of one run (`extracted`, `accepted`, `rejected`, `warned`)."""

    def __init__(self, area: StagingArea) -> None:
        self.area = area

    def write_batches(self, name: str, batches: Iterable[pa.RecordBatch]) -> int:
        """Stage a stream whose schema is only known from its first batch; returns rows written."""
        iterator = iter(batches)
        first = next(iterator, None)
        if first is None:
            return 0
        return self.area.write(name, itertools.chain([first], iterator), _settled(first.schema))

    def write_tables(self, name: str, tables: list[pa.Table], schema: pa.Schema | None) -> int:
        """Stage tables (a stage's outputs per batch); nothing is written for no rows."""
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return 0
        schema = schema or _relaxed(tables[0].schema)
        return self.area.write(name, (b for t in tables for b in t.cast(schema).to_batches()), schema)

    def batches(self, name: str) -> Iterator[pa.RecordBatch]:
        """The staged batches of a name; none when nothing was staged."""
        if self.area.exists(name):
            yield from self.area.reader(name)

    def reader(self, name: str, schema: pa.Schema) -> pa.RecordBatchReader:
        """A reader over a staged name, empty with `schema` when nothing was staged."""
        if self.area.exists(name):
            return self.area.reader(name)
        return pa.RecordBatchReader.from_batches(schema, iter(()))

    def read_all(self, names: list[str]) -> pa.Table | None:
        """The staged names concatenated, or None when none has rows."""
        tables = [self.area.reader(n).read_all() for n in names if self.area.exists(n)]
        tables = [t for t in tables if t.num_rows]
        return pa.concat_tables(tables, promote_options="permissive") if tables else None

    def clear(self) -> None:
        self.area.clear()
