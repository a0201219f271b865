"""Pure conversions for connectors: fetched row tuples -> Arrow columns, source types -> Arrow
types, delete flags -> the `_deleted` system column. Column-wise and typed up front, so every
batch of one extraction has the same schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

__all__ = ["column_array", "deleted_array", "sql_arrow_type", "sql_family", "state_value"]

_TRUE_TEXT = ["1", "true", "t", "y", "yes", "是"]


def sql_family(sql_type: sa.types.TypeEngine, *, dialect: str) -> str:
    """The contract type family a reflected SQL type belongs to (for schema-drift checks)."""
    if isinstance(sql_type, sa.Boolean):
        return "boolean"
    if isinstance(sql_type, sa.Integer):
        return "integer"
    if isinstance(sql_type, sa.Float):
        return "float"
    if isinstance(sql_type, sa.Numeric):
        return "decimal"
    if isinstance(sql_type, sa.DateTime):
        return "timestamp"
    if isinstance(sql_type, sa.Date):
        return "date"
    if isinstance(sql_type, sa.String | sa.Enum):
        return "string"
    return "other" if dialect != "sqlite" else "string"


def sql_arrow_type(
    sql_type: sa.types.TypeEngine, *, dialect: str, decimal: tuple[int, int] | None = None
) -> pa.DataType:
    """The Arrow type a column is delivered as: DB-native where the driver gives native values,
    text where SQLite stores text (dates, timestamps, decimals), so nothing is rounded or re-parsed."""
    family = sql_family(sql_type, dialect=dialect)
    if family == "boolean":
        return pa.bool_()
    if family == "integer":
        return pa.int64()
    if family == "float":
        return pa.float64()
    if dialect == "sqlite":
        return pa.string()
    if family == "decimal":
        precision = getattr(sql_type, "precision", None)
        scale = getattr(sql_type, "scale", None)
        if precision is None and decimal is not None:
            precision, scale = decimal
        return pa.decimal128(precision, scale or 0) if precision else pa.string()
    if family == "timestamp":
        return pa.timestamp("us", tz="UTC" if getattr(sql_type, "timezone", False) else None)
    if family == "date":
        return pa.date32()
    return pa.string()


def column_array(values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    """One fetched column (a tuple from `zip(*rows)`) as a typed Arrow array.

    The fast path is one `pa.array` call; drivers that give ints for booleans or non-strings for
    text columns take a slower, still column-wise, path.
    """
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        if pa.types.is_boolean(arrow_type):
            return pa.array([None if v is None else bool(v) for v in values], type=arrow_type)
        if pa.types.is_string(arrow_type):
            return pa.array([None if v is None else _text(v) for v in values], type=arrow_type)
        raise


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def deleted_array(flag: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The `_deleted` system column from a source's delete flag (bool, 0/1 or text); null -> False."""
    if pa.types.is_boolean(flag.type):
        result = flag
    elif pa.types.is_integer(flag.type) or pa.types.is_floating(flag.type):
        result = pc.not_equal(flag, 0)
    elif pa.types.is_null(flag.type):
        result = pa.nulls(len(flag), pa.bool_())
    else:
        result = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(flag.cast(pa.string()))), pa.array(_TRUE_TEXT))
    result = pc.fill_null(result, False)
    return result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result


def state_value(value: Any) -> Any:
    """A cursor or key value as JSON: datetimes and dates as ISO strings (microseconds kept)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
