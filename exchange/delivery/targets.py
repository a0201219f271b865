"""Where deliveries land: a Parquet object in the lake (file mode) or the department's database.

The database writer applies a net feed in ONE target transaction together with a row in the target's
`_govhub_delivery` bookkeeping table; the hub asks that table (`target_recorded`) before writing
again, so a crash between the target commit and the hub's own record can neither double nor skip.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from exchange.delivery.errors import DeliveryError
from exchange.delivery.feed import StreamChecksum
from exchange.delivery.masking import MASKED_KEY
from lake import ObjectStore

__all__ = ["BOOKKEEPING_TABLE", "FileWritten", "RowStream", "Rows", "target_recorded", "write_database", "write_file"]

log = logging.getLogger(__name__)

BOOKKEEPING_TABLE = "_govhub_delivery"
_CHUNK = 50_000
_ROW_GROUP = 128 * 1024


@dataclass(frozen=True)
class FileWritten:
    """A Parquet delivery in the lake: object key, download link (presigned on S3, a path locally)."""

    key: str
    link: str
    bytes: int
    checksum: str


class RowStream(Protocol):
    """Delivery rows that are not held as one table: a schema, then record batches (one pass)."""

    schema: pa.Schema

    def __iter__(self) -> Iterator[pa.RecordBatch]: ...


Rows: TypeAlias = pa.Table | RowStream


def _batches(rows: Rows) -> Iterator[pa.RecordBatch]:
    return iter(rows.to_batches()) if isinstance(rows, pa.Table) else iter(rows)


def write_file(rows: Rows, *, store: ObjectStore, key: str, s3: bool) -> FileWritten:
    """Write the rows as Parquet to `key`, batch by batch (a repeat overwrites the same object).

    checksum = SHA-256 of the file.
    """
    fd, tmp = tempfile.mkstemp(suffix=".parquet", prefix="govhub-delivery-")
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, rows.schema, compression="zstd") as writer:
            for batch in _batches(rows):
                writer.write_batch(batch, row_group_size=_ROW_GROUP)
        digest = hashlib.sha256()
        with open(tmp, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        size = Path(tmp).stat().st_size
        store.put_file(key, tmp, content_type="application/vnd.apache.parquet")
    finally:
        Path(tmp).unlink(missing_ok=True)
    link = store.presigned_get_url(key) if s3 else str(Path(store.root, key))
    return FileWritten(key=key, link=link, bytes=size, checksum=digest.hexdigest())


def _sql_type(t: pa.DataType, *, key: bool) -> sa.types.TypeEngine:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return sa.String(255) if key else sa.Text()
    if pa.types.is_integer(t):
        return sa.BigInteger()
    if pa.types.is_floating(t):
        return sa.Float()
    if pa.types.is_decimal(t):
        return sa.Numeric(t.precision, t.scale)
    if pa.types.is_boolean(t):
        return sa.Boolean()
    if pa.types.is_date(t):
        return sa.Date()
    if pa.types.is_timestamp(t):
        return sa.DateTime(timezone=t.tz is not None)
    return sa.Text()


def _masked_comment(field: pa.Field) -> str | None:
    """The comment of a masked column (PostgreSQL and MySQL keep it): how, why and how to ask."""
    kind = (field.metadata or {}).get(MASKED_KEY)
    if kind is None:
        return None
    return (
        f"脱敏（{kind.decode()}）：未获准访问未脱敏个人信息（pii_access=false），如需请以 pii_access 重新申请，"
        f"由提供部门审批 — masked ({kind.decode()}): no PII access granted; apply with pii_access"
    )


def _data_table(table: pa.Table, name: str, keys: list[str], metadata: sa.MetaData) -> sa.Table:
    columns = [
        sa.Column(f.name, _sql_type(f.type, key=k), primary_key=k, nullable=not k, comment=_masked_comment(f))
        for f, k in ((f, f.name in keys) for f in table.schema)
        if f.name != "_change_type"
    ]
    return sa.Table(name, metadata, *columns)


def _bookkeeping(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        BOOKKEEPING_TABLE,
        metadata,
        sa.Column("subscription_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("to_version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("from_version", sa.BigInteger, nullable=True),
        sa.Column("resource", sa.String(64)),
        sa.Column("rows", sa.BigInteger),
        sa.Column("checksum", sa.String(64)),
        sa.Column("delivered_at", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp()),
    )


def _safe_url(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<unparseable URL>"


@contextmanager
def _connect(url: str, department: str, subscription_id: int, target_name: str) -> Iterator[sa.Engine]:
    """An engine on the target; failures name the target only (the details go to the server log)."""
    where = f"delivery target {target_name!r} of department {department} (subscription {subscription_id})"
    try:
        engine = sa.create_engine(url)
    except (sa_exc.ArgumentError, ImportError) as e:
        log.error("%s: %s is not a usable SQLAlchemy URL: %s", where, _safe_url(url), e)
        raise DeliveryError(
            f"cannot deliver to {where}: its connection is not usable; the hub administrator must correct it",
            code="target_invalid",
            subscription_id=subscription_id,
            department=department,
        ) from e
    try:
        with engine.connect():
            pass
    except sa_exc.DBAPIError as e:
        engine.dispose()
        log.error("%s at %s unreachable: %s", where, _safe_url(url), str(e.orig).strip().splitlines()[0])
        raise DeliveryError(
            f"cannot reach {where}; the delivery is recorded failed and retried on the next run — check that the "
            "database is up, or ask the hub administrator (the server log has the details)",
            code="target_unreachable",
            subscription_id=subscription_id,
            department=department,
        ) from e
    try:
        yield engine
    finally:
        engine.dispose()


def target_recorded(url: str, *, subscription_id: int, to_version: int, department: str, target_name: str = "") -> bool:
    """True when the department's database already holds (subscription_id, to_version) in its bookkeeping."""
    with _connect(url, department, subscription_id, target_name) as engine:
        if not sa.inspect(engine).has_table(BOOKKEEPING_TABLE):
            return False
        book = _bookkeeping(sa.MetaData())
        with engine.connect() as conn:
            found = conn.execute(
                sa.select(book.c.to_version).where(
                    book.c.subscription_id == subscription_id, book.c.to_version == to_version
                )
            ).first()
        return found is not None


def _key_filter(table: sa.Table, keys: list[str], rows: pa.Table) -> Iterator[sa.ColumnElement[bool]]:
    """WHERE clauses selecting the rows' keys, in chunks (IN lists for one key, OR of ANDs otherwise)."""
    for start in range(0, rows.num_rows, 1000):
        part = rows.slice(start, 1000)
        if len(keys) == 1:
            yield table.c[keys[0]].in_(part.column(keys[0]).to_pylist())
        else:
            values = zip(*(part.column(k).to_pylist() for k in keys), strict=True)
            yield sa.or_(*(sa.and_(*(table.c[k] == v for k, v in zip(keys, row, strict=True))) for row in values))


def _driver_column(col: pa.ChunkedArray, dialect: str) -> list:
    """Python values the DB driver binds as is; SQLite gets SQLAlchemy's own text formats for dates/times."""
    if dialect == "sqlite":
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, "%Y-%m-%d %H:%M:%S")  # microsecond precision prints as SS.ffffff
        elif pa.types.is_date(col.type):
            col = col.cast(pa.string())
        elif pa.types.is_decimal(col.type):
            col = col.cast(pa.float64())
    return col.to_pylist()


def _insert(conn: sa.Connection, target: sa.Table, rows: pa.Table) -> None:
    """Bulk insert through the driver's executemany: per-row SQLAlchemy processing costs ~100 µs a row."""
    compiled = target.insert().compile(dialect=conn.dialect)
    names = list(compiled.positiontup) if compiled.positional else list(rows.column_names)
    dialect = conn.dialect.name
    for start in range(0, rows.num_rows, _CHUNK):
        part = rows.slice(start, _CHUNK)
        if part.num_rows == 0:
            continue
        columns = [_driver_column(part.column(n), dialect) for n in names]
        if compiled.positional:
            params: list = list(zip(*columns, strict=True))
        else:
            params = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        conn.exec_driver_sql(str(compiled), params)


def write_database(
    rows: Rows,
    *,
    url: str,
    resource: str,
    keys: list[str],
    subscription_id: int,
    department: str,
    from_version: int | None,
    to_version: int,
    target_name: str = "",
    before_commit: Callable[[str, int, int], None] | None = None,
) -> tuple[str, int]:
    """Apply a net feed to table `<resource>` in the target and record the version, in one transaction.

    A snapshot (`from_version=None`) replaces the table's rows; an increment deletes the changed keys
    and inserts their new state (a portable upsert: same result on SQLite, PostgreSQL, MariaDB). The
    rows are applied batch by batch; the bookkeeping row, written last in the same transaction, carries
    the SHA-256 of the rows' Arrow IPC stream. `before_commit(checksum, bytes, rows)` is called after
    that and before the target commits (the hub records what is about to arrive; if it raises, the
    target rolls back). Returns the checksum and the stream's size in bytes.
    """
    schema = rows.schema
    with _connect(url, department, subscription_id, target_name) as engine:
        metadata = sa.MetaData()
        target = _data_table(schema.empty_table(), resource, keys, metadata)
        book = _bookkeeping(metadata)
        checksum, count = StreamChecksum(schema), 0
        hub_failure: BaseException | None = None
        try:
            with engine.begin() as conn:
                metadata.create_all(conn, checkfirst=True)
                if from_version is None:
                    conn.execute(target.delete())
                for batch in _batches(rows):
                    checksum.add(batch)
                    count += batch.num_rows
                    table = pa.Table.from_batches([batch])
                    if from_version is not None:
                        for where in _key_filter(target, keys, table.select(keys)):
                            conn.execute(target.delete().where(where))
                    live = table.filter(pc.not_equal(table.column("_change_type"), "delete"))
                    _insert(conn, target, live.drop_columns(["_change_type"]))
                digest, size = checksum.finish()
                conn.execute(
                    book.insert().values(
                        subscription_id=subscription_id,
                        to_version=to_version,
                        from_version=from_version,
                        resource=resource,
                        rows=count,
                        checksum=digest,
                    )
                )
                if before_commit is not None:
                    try:
                        before_commit(digest, size, count)
                    except BaseException as e:  # the caller's own failure: not the target's to report
                        hub_failure = e
                        raise
        except sa_exc.DBAPIError as e:
            if e is hub_failure:
                raise
            log.error(
                "writing %s v%s to %s failed: %s",
                resource,
                to_version,
                _safe_url(url),
                str(e.orig).strip().splitlines()[0],
            )
            raise DeliveryError(
                f"writing {resource} v{to_version} into delivery target {target_name!r} of department {department} "
                f"(subscription {subscription_id}) failed and was rolled back; the server log has the details",
                code="target_write_failed",
                subscription_id=subscription_id,
                department=department,
            ) from e
    log.info("delivered %s rows of %s v%s to target %r (%s)", count, resource, to_version, target_name, _safe_url(url))
    return digest, size
