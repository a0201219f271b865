"""Pure conversions for connectors: fetched row tuples -> Arrow columns, source types -> Arrow
types, delete flags -> the `_deleted` system column. Column-wise and typed up front, so every
batch of one extraction has the same schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

__all__ = [
    "better_position",
    "column_array",
    "deleted_array",
    "last_position",
    "max_position",
    "sql_arrow_type",
    "sql_family",
    "state_value",
]

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
    if isinstance(sql_type, sa.LargeBinary | sa.BINARY | sa.VARBINARY):
        return "binary"
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
    text columns take a slower, still column-wise, path. Text is delivered byte for byte: bytes
    that are not UTF-8 (GBK in a BLOB or a legacy text column) stay as they are, for the quality
    stage to quarantine with the bytes escaped, never decoded into replacement characters.
    """
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        if pa.types.is_boolean(arrow_type):
            return pa.array([None if v is None else bool(v) for v in values], type=arrow_type)
        if pa.types.is_string(arrow_type):
            raw = pa.array([None if v is None else _text_bytes(v) for v in values], type=pa.binary())
            return raw.view(arrow_type)  # no UTF-8 validation: invalid text is judged downstream
        raise


def _text_bytes(value: Any) -> bytes:
    """A fetched value as the bytes of its text: bytes as received, text as UTF-8, dates in ISO form."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if not isinstance(value, str):
        value = value.isoformat() if hasattr(value, "isoformat") else str(value)
    try:
        return value.encode("utf-8", "surrogateescape")  # a driver's escaped undecodable bytes, restored
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")  # a lone surrogate: kept, and invalid UTF-8 downstream


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


def better_position(
    best: tuple[Any, ...] | None, position: tuple[Any, ...] | None, *, by_max: bool
) -> tuple[Any, ...] | None:
    """The state position after one more batch: the later one in keyset order, the larger one otherwise."""
    if position is None:
        return best
    if best is None or not by_max:
        return position
    return max(best, position, key=_sort_key)


def _sort_key(position: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    return tuple((v is not None, v) for v in position)  # NULL keys sort first, as in SQLite


def max_position(by_name: Mapping[str, pa.Array], order: Sequence[str]) -> tuple[Any, ...] | None:
    """The lexicographic maximum of (cursor, key...) over rows whose cursor is not null, with Arrow
    compute: the max cursor, then among its rows the max of each key column in turn. Rows whose
    cursor or key is not UTF-8 text are left out (no JSON state can name them; they are read again)."""
    cols = [by_name[n] for n in order]
    usable = _decodable(cols)
    if usable is not None:
        cols = [c.filter(usable) for c in cols]
    if cols[0].null_count:
        valid = cols[0].is_valid()
        cols = [c.filter(valid) for c in cols]
    result = []
    for i in range(len(cols)):
        col = cols[i]
        if len(col) == 0:
            return None
        top = pc.max(col)
        result.append(top.as_py())
        if i < len(cols) - 1:  # keep only the rows that tie so far
            same = pc.equal(col, top) if top.is_valid else col.is_null()
            cols = [c.filter(same) for c in cols]
    return tuple(result)


def last_position(by_name: Mapping[str, pa.Array], order: Sequence[str], cursor: str | None) -> tuple[Any, ...] | None:
    """(cursor, key...) of the batch's last row whose cursor is not null (nulls never advance state)
    and whose values are UTF-8 text where text (see `max_position`)."""
    if not order or len(by_name[order[0]]) == 0:
        return None
    valid = by_name[order[0]].is_valid() if cursor else None
    usable = _decodable([by_name[n] for n in order])
    if usable is not None:
        valid = usable if valid is None else pc.and_(valid, usable)
    index = len(by_name[order[0]]) - 1
    if valid is not None and not valid[index].as_py():
        positions = pc.indices_nonzero(valid)
        if len(positions) == 0:
            return None
        index = positions[-1].as_py()
    return tuple(by_name[n][index].as_py() for n in order)


def _decodable(columns: Sequence[pa.Array]) -> pa.BooleanArray | None:
    """Rows whose text values are all valid UTF-8; None when every row's are (one vectorised check
    per column; only a column holding bytes that are not UTF-8 is walked row by row)."""
    usable: list[bool] | None = None
    for col in columns:
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        try:
            col.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        ok = [v is None or _is_utf8(v) for v in col.cast(pa.large_binary()).to_pylist()]
        usable = ok if usable is None else [a and b for a, b in zip(usable, ok, strict=True)]
    return None if usable is None else pa.array(usable, pa.bool_())


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
