"""The relational registries (population, legal entity) and the credit platform's store, from contracts.

Tables are named after the contract's `source.table` and carry the contract fields plus the
`source.deleted_flag` column. Like the legacy systems they imitate, dates are VARCHAR(10) text
(so impossible dates such as 2023-02-30 can exist), non-key columns accept NULL (so required
values can be missing), and `updated_at` is a naive-UTC DATETIME with microseconds, indexed with
the primary key as `(updated_at, pk)`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from schemas import Contract, SourceError, load_contract
from simulators.generate import Table

__all__ = [
    "connect",
    "create_table",
    "insert_rows",
    "reflect_table",
    "registry_table",
    "sql_url",
    "update_rows",
]

log = logging.getLogger(__name__)
_CHUNK = 20_000
_TEXT_OVER = 1000


def sql_url(target: str | Path) -> str:
    """A SQLAlchemy URL for `target`: URLs pass through, paths become SQLite files."""
    text = str(target)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def connect(target: str | Path) -> sa.Engine:
    """An engine for a registry; SQLite gets WAL and a busy timeout so a reader and the ticker coexist."""
    url = sql_url(target)
    engine = sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def _column_type(contract: Contract, name: str, *, decimal_as_text: bool) -> sa.types.TypeEngine:
    f = contract.field(name)
    if f.type == "string":
        longest = max((int(c.params["max"]) for c in f.checks if c.rule == "length" and "max" in c.params), default=255)
        return sa.Text() if longest > _TEXT_OVER else sa.String(max(longest, 64))
    if f.type == "date":
        return sa.String(10)
    if f.type == "timestamp":
        return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    if f.type == "decimal":
        return sa.String(48) if decimal_as_text else sa.Numeric(f.precision, f.scale)
    return {"integer": sa.BigInteger(), "float": sa.Float(), "boolean": sa.Boolean()}[f.type]


def registry_table(
    contract: Contract,
    metadata: sa.MetaData | None = None,
    *,
    name: str | None = None,
    decimal_as_text: bool = False,
) -> sa.Table:
    """The source table of a contract: its fields and the deleted flag (`create_table` adds the index)."""
    metadata = metadata if metadata is not None else sa.MetaData()
    table_name = name or contract.source.options.get("table") or contract.resource
    cursor = contract.source.cursor or "updated_at"
    columns: list[sa.SchemaItem] = [
        sa.Column(
            f.name,
            _column_type(contract, f.name, decimal_as_text=decimal_as_text),
            primary_key=f.name in contract.primary_key,
            nullable=f.name not in contract.primary_key and f.name != cursor,
        )
        for f in contract.fields
    ]
    if contract.source.deleted_flag:
        columns.append(
            sa.Column(contract.source.deleted_flag, sa.SmallInteger(), nullable=False, server_default=sa.text("0"))
        )
    return sa.Table(table_name, metadata, *columns)


def _cursor_index(table: sa.Table, contract: Contract) -> sa.Index:
    cursor = contract.source.cursor or "updated_at"
    return sa.Index(f"ix_{table.name}_{cursor}_pk", table.c[cursor], *(table.c[k] for k in contract.primary_key))


def _touch_trigger(conn: sa.Connection, table: sa.Table, contract: Contract) -> None:
    """Bump `updated_at` on updates that forget to (manual edits); explicit values always win."""
    t, pk, cur = table.name, contract.primary_key[0], contract.source.cursor or "updated_at"
    dialect = conn.dialect.name
    if dialect == "sqlite":
        now = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"
        conn.exec_driver_sql(
            f"CREATE TRIGGER trg_{t}_touch AFTER UPDATE ON {t} FOR EACH ROW WHEN NEW.{cur} IS OLD.{cur} "
            f"BEGIN UPDATE {t} SET {cur} = {now} WHERE {pk} = NEW.{pk}; END"
        )
    elif dialect in ("mysql", "mariadb"):
        conn.exec_driver_sql(
            f"ALTER TABLE {t} MODIFY {cur} DATETIME(6) NOT NULL "
            "DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"
        )
    elif dialect == "postgresql":
        conn.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION {t}_touch() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.{cur} IS NOT DISTINCT FROM OLD.{cur} THEN "
            f"NEW.{cur} := clock_timestamp() AT TIME ZONE 'UTC'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            f"CREATE TRIGGER trg_{t}_touch BEFORE UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {t}_touch()"
        )


def create_table(
    engine: sa.Engine,
    resource: str,
    *,
    replace: bool = False,
    decimal_as_text: bool = False,
    rows: Table | None = None,
) -> sa.Table:
    """Create the resource's source table, load `rows` if given, then add the `(updated_at, pk)` index.

    Indexing after the bulk load is several times faster than maintaining the index row by row.
    `replace` drops an existing table first; otherwise an existing table is an error.
    """
    contract = load_contract(resource)
    table = registry_table(contract, sa.MetaData(), decimal_as_text=decimal_as_text)
    try:
        with engine.begin() as conn:
            if replace:
                table.drop(conn, checkfirst=True)
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {table.name}_touch()")
            table.create(conn)
            _touch_trigger(conn, table, contract)
        if rows is not None:
            insert_rows(engine, table, rows)
        with engine.begin() as conn:
            _cursor_index(table, contract).create(conn)
    except sa.exc.SQLAlchemyError as e:
        raise SourceError(contract.source.system, f"cannot create table {table.name} at {engine.url!r}: {e}") from e
    return table


def reflect_table(engine: sa.Engine, resource: str) -> sa.Table:
    """The resource's existing source table, typed from the contract (no database round trip)."""
    contract = load_contract(resource)
    decimal_as_text = contract.source.kind == "http"
    return registry_table(contract, sa.MetaData(), decimal_as_text=decimal_as_text)


def _driver_value(value: Any, dialect: str) -> Any:
    if dialect == "sqlite" and isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="microseconds")  # SQLAlchemy's SQLite DATETIME text
    if dialect == "sqlite" and isinstance(value, Decimal):
        return str(value)
    return value


def _driver_column(values: list[Any], dialect: str) -> list[Any]:
    """`_driver_value` over a column, skipping columns that hold no datetime or decimal (most of them)."""
    if not {dt.datetime, Decimal} & set(map(type, values)):
        return values
    return [_driver_value(x, dialect) for x in values]


def insert_rows(engine: sa.Engine, table: sa.Table, rows: Table | Iterable[dict[str, Any]]) -> int:
    """Bulk-insert rows through the driver's executemany (tuples, chunked), one transaction.

    Skips SQLAlchemy's per-row type processing: 1 M persons take seconds, not a minute.
    """
    dialect = engine.dialect.name
    convert = dialect == "sqlite"
    if isinstance(rows, Table):
        names = list(rows.columns)
        columns = [rows.columns[n] for n in names]
        if convert:  # column-wise: only the columns holding datetimes or decimals are touched
            columns = [_driver_column(c, dialect) for c in columns]
            convert = False
        data = zip(*columns, strict=True)
    else:
        row_list = list(rows)
        names = list(row_list[0]) if row_list else []
        data = (tuple(r[n] for n in names) for r in row_list)
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    quote = engine.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join([mark] * len(names))})"
    )
    count = 0
    with engine.begin() as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-400000")
        while chunk := list(itertools.islice(data, _CHUNK)):
            if convert:
                chunk = [tuple(_driver_value(x, dialect) for x in row) for row in chunk]
            conn.exec_driver_sql(sql, chunk)
            count += len(chunk)
    log.info("inserted %s rows into %s", count, table.name)
    return count


def update_rows(engine: sa.Engine, table: sa.Table, key: str, changes: list[dict[str, Any]]) -> int:
    """Apply per-row changes (`{key: ..., col: value, ...}`, same columns in each) with executemany."""
    if not changes:
        return 0
    cols = [c for c in changes[0] if c != key]
    stmt = table.update().where(table.c[key] == sa.bindparam("_key")).values({c: sa.bindparam(f"_v_{c}") for c in cols})
    params = [{"_key": ch[key], **{f"_v_{c}": ch[c] for c in cols}} for ch in changes]
    with engine.begin() as conn:
        conn.execute(stmt, params)
    return len(params)
