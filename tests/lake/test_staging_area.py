"""StagingArea: Parquet files between pipeline stages of one run; ObjectStore on a local root."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lake import ObjectStore
from schemas import arrow_schema
from schemas.errors import LakeError


def test_round_trip_streams_batches(lake, person, rows):
    s = lake.staging(person, "run-1")
    assert s.uri.endswith("staging/person/run-1")
    table = rows(person, [f"k{i}" for i in range(50)])
    assert not s.exists("accepted")
    assert s.write("accepted", table.to_batches(max_chunksize=10), arrow_schema(person)) == 50
    assert s.exists("accepted")
    reader = s.reader("accepted")
    assert isinstance(reader, pa.RecordBatchReader)
    back = reader.read_all()
    assert back.equals(table)
    assert back.schema.field("name").metadata[b"label"] == "姓名".encode()
    s.clear()
    assert not s.exists("accepted") and not Path(s.uri).exists()


def test_missing_file_and_bad_name_raise_lake_error(lake, person):
    s = lake.staging(person, "run-2")
    with pytest.raises(LakeError, match=r"staging file accepted .* could not be read.*re-run the stage"):
        s.reader("accepted")
    with pytest.raises(LakeError, match=r"staging file name '\.\./x' is invalid"):
        s.write("../x", [], pa.schema([]))


def test_local_object_store(lake, tmp_path):
    src = tmp_path / "d.csv"
    src.write_text("x\n")
    store = ObjectStore.from_lake(lake)
    uri = store.put_file("deliveries/d.csv", src)
    assert uri.startswith("file://") and Path(lake.root, "deliveries/d.csv").read_text() == "x\n"
    assert store.presigned_get_url("deliveries/d.csv") == uri


def test_writer_streams_batches_reads_columns_and_leaves_nothing_on_failure(lake, person, rows):
    s = lake.staging(person, "run-3")
    table = rows(person, [f"k{i}" for i in range(30)])
    with s.writer("accepted", table.schema) as writer:
        for batch in table.to_batches(max_chunksize=7):
            writer.write(batch)
    assert writer.rows == 30 and s.rows("accepted") == 30
    keys = s.reader("accepted", columns=["id_number"]).read_all()
    assert keys.column_names == ["id_number"] and keys.column(0).equals(table.column("id_number"))
    with pytest.raises(LakeError, match=r"has no column\(s\) \['nope'\]"):
        s.reader("accepted", columns=["nope"])
    with pytest.raises(RuntimeError), s.writer("rejected", table.schema) as writer:
        writer.write(table)
        raise RuntimeError("stage failed half way")
    assert not s.exists("rejected")  # a later stage never reads a partial output
