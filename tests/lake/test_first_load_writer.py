"""A first load's Parquet encoding: bounded row groups, no dictionary on distinct-valued columns."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lake._writer import FIRST_LOAD_ROW_GROUP_ROWS, distinct_columns, writer_properties

META = {"run_id": "r-1", "source": "population"}
_DICTIONARY = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}


def test_distinct_columns_are_the_text_columns_whose_values_mostly_differ() -> None:
    n = 1_000
    table = pa.table(
        {
            "id_number": [f"id-{i}" for i in range(n)],
            "gender": ["男" if i % 2 else "女" for i in range(n)],
            "phone": [None if i % 3 else f"138{i:08d}" for i in range(n)],  # distinct where present
            "status": [None] * n,
            "age": list(range(n)),  # not text: the writer's own encodings suit numbers
        }
    )
    assert distinct_columns(table) == ["id_number", "phone"]
    assert "id_number" in str(writer_properties(table))
    assert "column_properties: None" in str(writer_properties(None))


def test_a_first_load_writes_small_row_groups_and_plain_distinct_keys(lake, person, rows) -> None:
    n = FIRST_LOAD_ROW_GROUP_ROWS + 5_000
    table = lake.curated(person)
    info = table.commit(rows(person, [f"{i:018d}" for i in range(n)]), app_id="ingest:person", run_seq=1, metadata=META)
    assert info is not None and info.rows_inserted == n
    files = sorted(Path(table.uri).glob("*.parquet"))
    assert files, "the first load wrote no data file"
    meta = pq.ParquetFile(files[0]).metadata
    assert meta.num_row_groups >= 2
    assert all(meta.row_group(i).num_rows <= FIRST_LOAD_ROW_GROUP_ROWS for i in range(meta.num_row_groups))
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    encodings = {name: set(meta.row_group(0).column(i).encodings) for i, name in enumerate(names)}
    assert not encodings["id_number"] & _DICTIONARY, encodings["id_number"]  # every key differs: plain
    assert encodings["name"] & _DICTIONARY, encodings["name"]  # one value repeated: the dictionary stays
    assert table.read().num_rows == n
