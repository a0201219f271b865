"""SQL views of a curated table's current state for readers outside the hub (DuckDB, Spark, Trino).

The state is the base's rows whose key has no change after the base's compaction, then each key's
last change unless it is a deletion. A view names that compaction point as a literal: one generated
before a later compaction stays correct (re-applying changes the base already holds gives the same
rows), it only reads more of the change table; regenerate it after a compaction to read less.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from lake._changes import DELETED
from lake._state import CHANGES_DIR, COMMIT_VERSION

if TYPE_CHECKING:
    from lake.curated import CuratedTable

__all__ = ["Dialect", "view_sql"]

Dialect = Literal["duckdb", "spark", "trino"]


def _q(name: str, dialect: Dialect) -> str:
    if dialect == "spark":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def _source(uri: str, dialect: Dialect) -> str:
    if dialect == "duckdb":
        return "delta_scan('" + uri.replace("'", "''") + "')"
    if dialect == "spark":
        return "delta.`" + uri + "`"
    raise ValueError(f"no path source for {dialect}: Trino reads tables registered in its Delta connector")


def view_sql(table: CuratedTable, dialect: Dialect = "duckdb", *, name: str | None = None) -> str:
    """`CREATE VIEW` SQL for the current state of `table` in `dialect`.

    DuckDB reads the Delta folders with `delta_scan` (the `delta` extension); Spark with
    delta.`<path>`; Trino needs both tables registered in its Delta Lake connector first
    (`CALL delta.system.register_table(schema_name => 'govhub', table_name => '<resource>',
    table_location => '<uri>')` and `'<resource>_changes'` at `<uri>/_changes`), named here as
    `govhub.<resource>` and `govhub.<resource>_changes`.
    """
    resource = table.contract.resource
    view = name or resource
    layout = table._layout()
    schema = table._state_schema(layout)
    keys = [_q(k, dialect) for k in table.contract.primary_key]
    columns = ", ".join(_q(n, dialect) for n in schema.names)
    if dialect == "trino":
        base, changes = f"govhub.{_q(resource, dialect)}", f"govhub.{_q(resource + '_changes', dialect)}"
    else:
        base = _source(table.uri, dialect)
        changes = _source(f"{table.uri.rstrip('/')}/{CHANGES_DIR}", dialect)
    if layout.changes is None:
        return f"CREATE OR REPLACE VIEW {_q(view, dialect)} AS SELECT {columns} FROM {base}"
    after = layout.offset + layout.compacted
    live = "" if table.contract.deletes == "tombstone" else f" AND NOT {_q(DELETED, dialect)}"
    match = " AND ".join(f"p.{k} = b.{k}" for k in keys)
    rank = f"row_number() OVER (PARTITION BY {', '.join(keys)} ORDER BY {_q(COMMIT_VERSION, dialect)} DESC)"
    return (
        f"CREATE OR REPLACE VIEW {_q(view, dialect)} AS\n"
        f"WITH pending AS (SELECT * FROM {changes} WHERE {_q(COMMIT_VERSION, dialect)} > {after}),\n"
        f"latest AS (SELECT *, {rank} AS govhub_rank FROM pending)\n"
        f"SELECT {columns} FROM {base} AS b\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM pending AS p WHERE {match})\n"
        f"UNION ALL\n"
        f"SELECT {columns} FROM latest WHERE govhub_rank = 1{live}"
    )
