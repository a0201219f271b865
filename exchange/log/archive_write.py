"""A month of exchange-log events read into Arrow batches for its archive file, without a Python object per row.

PostgreSQL writes the stored values by COPY (CSV, every value quoted so an empty string is not NULL) and
`pyarrow.csv` parses them straight into the archive's types; SQLite's rows come off a raw cursor and are
turned into Arrow a column at a time. `details` is the stored canonical JSON text, as the hash covers it.
A batch either path cannot take (a value of the wrong storage type, a time Arrow cannot parse) is read
again through the ORM's types (`orm_batch`): the same values, only slower. The archive re-reads the file
it wrote and re-hashes its chain before any event leaves the database, so a value read wrongly here
could never be lost, only refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as csv
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from core.chaincopy import usable
from exchange.log._hashing import canonical_value
from exchange.log.models import ExchangeEvent

__all__ = ["BATCH", "month_batches", "orm_batch"]

log = logging.getLogger(__name__)

BATCH = 20_000
_EVENTS = ExchangeEvent.__table__


def _schema() -> pa.Schema:
    from exchange.log.archive import ARCHIVE_SCHEMA

    return ARCHIVE_SCHEMA


def orm_batch(conn: Connection, lo: int, hi: int) -> pa.RecordBatch:
    """Events lo <= seq <= hi through SQLAlchemy's column types (any dialect, any stored value)."""
    schema = _schema()
    rows: Sequence[Mapping[str, Any]] = [
        dict(r._mapping)
        for r in conn.execute(select(_EVENTS).where(_EVENTS.c.seq.between(lo, hi)).order_by(_EVENTS.c.seq))
    ]
    columns: dict[str, list[Any]] = {name: [r[name] for r in rows] for name in schema.names}
    columns["details"] = [None if v is None else canonical_value(v).decode("utf-8") for v in columns["details"]]
    return pa.RecordBatch.from_pydict(columns, schema=schema)


def _copy_batch(dbapi: Any, lo: int, hi: int) -> pa.RecordBatch:
    """Events lo <= seq <= hi by COPY ... CSV on a psycopg connection, parsed by Arrow."""
    schema = _schema()
    select_list = ", ".join(
        f"({f.name} AT TIME ZONE 'UTC')" if pa.types.is_timestamp(f.type) else f.name for f in schema
    )
    statement = (
        f"COPY (SELECT {select_list} FROM exchange_event WHERE seq >= {int(lo)} AND seq <= {int(hi)} ORDER BY seq) "
        "TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)"
    )
    cursor = dbapi.cursor()
    try:
        cursor.execute("SELECT set_config('extra_float_digits', '3', true)")  # every digit of a float
        with cursor.copy(statement) as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
    finally:
        cursor.close()
    naive = {f.name: pa.timestamp("us") if pa.types.is_timestamp(f.type) else f.type for f in schema}
    table = csv.read_csv(
        pa.BufferReader(data),
        read_options=csv.ReadOptions(column_names=schema.names, use_threads=False, block_size=1 << 24),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(
            column_types=naive, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    return _typed(table, schema)


def _typed(table: pa.Table, schema: pa.Schema) -> pa.RecordBatch:
    """The parsed columns in the archive's types (naive UTC times given their zone); one batch."""
    columns = [table.column(f.name).cast(f.type) for f in schema]
    return (
        pa.Table.from_arrays(columns, schema=schema).combine_chunks().to_batches()[0]
        if table.num_rows
        else (pa.RecordBatch.from_pylist([], schema=schema))
    )


def _cursor_batch(dbapi: Any, lo: int, hi: int) -> pa.RecordBatch:
    """Events lo <= seq <= hi off a raw DB-API cursor (SQLite: times as text), built a column at a time."""
    schema = _schema()
    cursor = dbapi.cursor()
    try:
        cursor.execute(
            f"SELECT {', '.join(schema.names)} FROM exchange_event WHERE seq >= ? AND seq <= ? ORDER BY seq", (lo, hi)
        )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return pa.RecordBatch.from_pylist([], schema=schema)
    arrays = []
    for field, values in zip(schema, zip(*rows, strict=True), strict=True):
        if pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(field.type))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def month_batches(conn: Connection | Session, first: int, last: int) -> Iterator[pa.RecordBatch]:
    """Events first..last as Arrow batches of up to `BATCH` rows in the transaction of `conn` (flat memory)."""
    connection = conn.connection() if isinstance(conn, Session) else conn
    dialect = connection.dialect.name
    dbapi = connection.connection.dbapi_connection
    fast = None
    if dialect == "postgresql" and dbapi is not None and usable(dbapi):
        fast = _copy_batch
    elif dialect == "sqlite":
        fast = _cursor_batch
    for lo in range(first, last + 1, BATCH):
        hi = min(lo + BATCH - 1, last)
        batch = None
        if fast is not None:
            try:
                batch = fast(dbapi, lo, hi)
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as e:
                log.info("events %s-%s read through the ORM's types (%s: %s)", lo, hi, type(e).__name__, e)
        if batch is None:
            batch = orm_batch(connection, lo, hi)
        if batch.num_rows:
            yield batch
        pa.default_memory_pool().release_unused()
