"""Contract -> Arrow schema: the one place where contract types become physical types."""

from __future__ import annotations

import pyarrow as pa

from schemas.contract import Contract, Field

__all__ = ["arrow_schema", "arrow_type"]

_SIMPLE = {
    "string": pa.string(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def arrow_type(field: Field) -> pa.DataType:
    """The Arrow type a field is stored as in the lake."""
    if field.type == "decimal":
        return pa.decimal128(field.precision, field.scale)
    return _SIMPLE[field.type]


def arrow_schema(contract: Contract) -> pa.Schema:
    """The curated table's Arrow schema: one column per contract field, nullability from `required`.

    Chinese labels travel as field metadata so Parquet files explain themselves.
    """
    return pa.schema(
        [
            pa.field(
                f.name,
                arrow_type(f),
                nullable=not f.required,
                metadata={"label": f.label, "label_en": f.label_en, "pii": f.pii},
            )
            for f in contract.fields
        ],
        metadata={"resource": contract.resource, "title": contract.title},
    )
