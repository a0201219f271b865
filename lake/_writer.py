"""How curated Parquet files are encoded: dictionary encoding only where a column repeats its values.

Parquet writers dictionary-encode every column by default. On a column whose values are (nearly)
all distinct — an ID number, a name, a phone number — the dictionary grows with every row until the
writer gives up and falls back to plain encoding, so the work is done and then thrown away: on a
500,000-person first load delta-rs spent 0.54 CPU s writing with dictionaries everywhere and 0.30 s
with them off on the three distinct-valued columns, for files of the same size (bench/README.md).
Low-cardinality columns (gender, status, region codes) keep their dictionaries: there they shrink
the file and speed up readers. Compression stays delta-rs' default (none): Snappy or LZ4 halve the
files but cost ~0.1 CPU s more per 500,000 rows and did not lower the write's peak memory.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import ColumnProperties, WriterProperties

__all__ = ["DISTINCT_SHARE", "FIRST_LOAD_ROW_GROUP_ROWS", "distinct_columns", "writer_properties"]

# A first load writes row groups of 32 Ki rows: delta-rs buffers the row group being encoded, so this
# bounds the write's memory (500,000 persons: +62 MB over the process for the write at 32 Ki rows,
# +78 MB at 64 Ki, +97 MB at the 128 Ki rows merges and change appends use).
FIRST_LOAD_ROW_GROUP_ROWS = 32 * 1024

# A column is "distinct-valued" when more than this share of a sample's non-null values differ.
DISTINCT_SHARE = 0.5
_SAMPLE_ROWS = 16_384


def distinct_columns(sample: pa.RecordBatch | pa.Table) -> list[str]:
    """The string and binary columns of `sample` whose first rows are mostly distinct values."""
    head = sample.slice(0, _SAMPLE_ROWS)
    out = []
    for field in head.schema:
        t = field.type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)):
            continue
        column = head.column(field.name)
        present = len(column) - column.null_count
        if present and pc.count_distinct(column).as_py() > DISTINCT_SHARE * present:
            out.append(field.name)
    return out


def writer_properties(sample: pa.RecordBatch | pa.Table | None = None) -> WriterProperties:
    """Writer settings for a first load: 32 Ki-row groups, no dictionary on distinct-valued columns.

    `sample` is the write's first batch; without one every column keeps the writer's default.
    """
    columns = distinct_columns(sample) if sample is not None else []
    return WriterProperties(
        max_row_group_size=FIRST_LOAD_ROW_GROUP_ROWS,
        column_properties={name: ColumnProperties(dictionary_enabled=False) for name in columns} or None,
    )
