"""CuratedTable: MERGE semantics, commits and versions, change data feed, crash recognition, damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import lake._index as index_cache
from lake import CommitInfo, Lake
from lake._changes import _string_hash, _text_hash, fingerprints, repeated
from schemas import arrow_schema
from schemas.errors import LakeError

META = {"run_id": "r-1", "source": "population"}


def _by_key(table: pa.Table, key: str) -> dict[str, dict]:
    return {r[key]: r for r in table.to_pylist()}


def test_first_load_creates_table_with_contract_schema_and_cdf(lake, person, rows):
    t = lake.curated(person)
    assert not t.exists() and t.version() is None
    info = t.commit(rows(person, ["a", "b", "c"]), app_id="ingest:person", run_seq=1, metadata=META)
    assert isinstance(info, CommitInfo)
    assert (info.version, info.run_seq, info.rows_inserted, info.metadata) == (0, 1, 3, META)
    assert t.exists() and t.version() == 0
    table = t.read()
    assert table.num_rows == 3
    schema = arrow_schema(person)
    assert table.schema.field("id_number").nullable is False
    assert table.schema.field("phone").nullable is True
    assert table.schema.field("name").metadata[b"label"] == "姓名".encode()
    assert table.schema.names == schema.names
    assert sorted(t.keys().to_pylist()) == ["a", "b", "c"]
    snap = t.changes(after_version=None)
    assert snap.num_rows == 3
    assert set(snap.column("_change_type").to_pylist()) == {"insert"}
    assert set(snap.column("_commit_version").to_pylist()) == {0}


def test_insert_update_delete_is_one_change_commit_with_a_feed(lake, person, rows):
    t = lake.curated(person)
    t.commit(rows(person, ["a", "b", "c"]), app_id="x", run_seq=1, metadata=META)
    changes = rows(person, ["b", "c", "d"], tag="v2", deleted=[False, True, False])
    info = t.commit(changes, app_id="x", run_seq=2, metadata=META)
    assert info is not None
    assert (info.version, info.rows_inserted, info.rows_updated, info.rows_deleted) == (1, 1, 1, 1)
    current = _by_key(t.read(), "id_number")
    assert sorted(current) == ["a", "b", "d"]
    assert current["b"]["name"] == "name-v2" and current["a"]["name"] == "name-v1"
    feed = t.changes(after_version=0)
    kinds = sorted((r["id_number"], r["_change_type"]) for r in feed.to_pylist())
    assert kinds == [("b", "update_postimage"), ("c", "delete"), ("d", "insert")]
    assert set(feed.column("_commit_version").to_pylist()) == {1}
    assert feed.schema.field("_commit_timestamp").type == pa.timestamp("ms", tz="UTC")
    post = next(r for r in feed.to_pylist() if r["_change_type"] == "update_postimage")
    assert post["name"] == "name-v2"
    # the time-travel view still has the first version
    assert sorted(t.read(version=0).column("id_number").to_pylist()) == ["a", "b", "c"]
    assert t.changes(after_version=1).num_rows == 0
    assert t.changes(after_version=None, to_version=0).num_rows == 3


def test_tombstone_keeps_row_with_deleted_flag(lake, legal_entity, rows):
    t = lake.curated(legal_entity)
    key = legal_entity.primary_key[0]
    t.commit(rows(legal_entity, ["a", "b"]), app_id="x", run_seq=1, metadata=META)
    assert t.read().column("_deleted").to_pylist() == [False, False]
    info = t.commit(rows(legal_entity, ["a"], tag="gone", deleted=[True]), app_id="x", run_seq=2, metadata=META)
    assert info is not None and info.rows_updated == 1
    current = _by_key(t.read(), key)
    assert current["a"]["_deleted"] is True and current["b"]["_deleted"] is False
    (tomb,) = t.changes(after_version=0).to_pylist()
    assert (tomb["_change_type"], tomb["_deleted"], tomb["name"]) == ("update_postimage", True, "name-v1")
    # deleting a tombstoned row again changes nothing; re-sending it revives it
    assert t.commit(rows(legal_entity, ["a"], deleted=[True]), app_id="x", run_seq=3, metadata=META) is None
    t.commit(rows(legal_entity, ["a"], tag="back"), app_id="x", run_seq=4, metadata=META)
    assert _by_key(t.read(), key)["a"]["_deleted"] is False


def test_last_occurrence_of_a_key_wins(lake, person, rows):
    t = lake.curated(person)
    batch = pa.concat_tables(
        [rows(person, ["a", "b"], tag="old"), rows(person, ["a"], tag="new"), rows(person, ["b"], tag="x")]
    )
    t.commit(batch, app_id="x", run_seq=1, metadata=META)
    current = _by_key(t.read(), "id_number")
    assert (current["a"]["name"], current["b"]["name"]) == ("name-new", "name-x")
    # insert then delete of the same key in one batch: the delete wins
    batch = pa.concat_tables(
        [rows(person, ["c"], deleted=[False]), rows(person, ["c", "a"], tag="d", deleted=[True, False])]
    )
    t.commit(batch, app_id="x", run_seq=2, metadata=META)
    assert sorted(t.keys().to_pylist()) == ["a", "b"]


def test_empty_and_noop_changes_make_no_commit(lake, person, rows):
    t = lake.curated(person)
    assert t.commit(rows(person, []), app_id="x", run_seq=1, metadata=META) is None
    assert not t.exists()
    assert t.commit(rows(person, ["a"], deleted=[True]), app_id="x", run_seq=1, metadata=META) is None
    assert not t.exists()
    t.commit(rows(person, ["a", "b"]), app_id="x", run_seq=1, metadata=META)
    # unknown-key deletes only
    assert t.commit(rows(person, ["zz"], deleted=[True]), app_id="x", run_seq=2, metadata=META) is None
    # a re-run that re-sends identical rows
    assert t.commit(rows(person, ["a", "b"]), app_id="x", run_seq=2, metadata=META) is None
    assert t.version() == 0
    # an unknown delete next to a real change is ignored, the change commits
    info = t.commit(rows(person, ["zz", "a"], tag="v2", deleted=[True, False]), app_id="x", run_seq=2, metadata=META)
    assert info is not None and (info.rows_updated, info.rows_deleted) == (1, 0)


def test_reader_input_is_accepted(lake, person, rows):
    t = lake.curated(person)
    table = rows(person, [f"k{i}" for i in range(100)])
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=10))
    assert t.commit(reader, app_id="x", run_seq=1, metadata=META).rows_inserted == 100


def _source(table: pa.Table, chunk: int):
    """A re-readable change stream over `table` in batches of `chunk` rows, counting its passes."""
    passes: list[list[str] | None] = []

    def open_reader(columns=None):
        passes.append(columns)
        selected = table if columns is None else table.select(list(columns))
        return pa.RecordBatchReader.from_batches(selected.schema, selected.to_batches(max_chunksize=chunk))

    return open_reader, passes


def test_streamed_source_dedups_across_batches_and_drops_unknown_deletes(lake, person, rows, monkeypatch):
    t = lake.curated(person)
    first = pa.concat_tables([rows(person, ["a", "b", "c"], tag="old"), rows(person, ["a"], tag="new")])
    source, passes = _source(first, chunk=2)
    info = t.commit(source, app_id="x", run_seq=1, metadata=META)
    assert info.rows_inserted == 3
    assert _by_key(t.read(), "id_number")["a"]["name"] == "name-new"
    # schema probe, key pass and the exact check of the repeated key (key column only), then the rows
    assert passes == [None, ["id_number"], ["id_number"], None]
    # every fingerprint equal: the exact comparison alone must decide which rows repeat a key
    monkeypatch.setattr("lake._merge.fingerprints", lambda columns: np.zeros(len(columns[0]), dtype=np.uint64))
    change = pa.concat_tables(
        [
            rows(person, ["b", "zz"], tag="v2", deleted=[False, True]),
            rows(person, ["c", "b"], tag="v3", deleted=[True, False]),
        ]
    )
    source, _ = _source(change, chunk=1)
    info = t.commit(source, app_id="x", run_seq=2, metadata=META)
    assert (info.rows_inserted, info.rows_updated, info.rows_deleted) == (0, 1, 1)
    current = _by_key(t.read(), "id_number")
    assert sorted(current) == ["a", "b"] and current["b"]["name"] == "name-v3"


def test_large_change_sets_stream_into_merge(lake, person, rows, monkeypatch):
    monkeypatch.setattr("lake._merge.MERGE_IN_MEMORY_ROWS", 5)
    t = lake.curated(person)
    t.commit(rows(person, [f"k{i:02d}" for i in range(20)]), app_id="x", run_seq=1, metadata=META)
    change = rows(person, [f"k{i:02d}" for i in range(10, 30)], tag="v2")
    source, _ = _source(change, chunk=4)
    info = t.commit(source, app_id="x", run_seq=2, metadata=META)
    assert (info.rows_inserted, info.rows_updated) == (10, 10)
    assert t.read().num_rows == 30
    kinds = sorted(r["_change_type"] for r in t.changes(after_version=0).to_pylist())
    assert kinds.count("insert") == 10 and kinds.count("update_postimage") == 10


def test_fingerprints_separate_keys_and_flag_repeats():
    keys = pa.array(["a", "b", "a", None, "abc", "ab", None, "", "430902198001010011"])
    prints = fingerprints([keys])
    assert repeated(prints).tolist() == [0, 2, 3, 6]
    assert len(set(prints.tolist())) == 7
    assert repeated(fingerprints([pa.array([3, 1, 2])])).tolist() == []
    # repeated text is hashed through a dictionary: the same prints as value by value
    many = pa.array([None, "湖南省益阳市", "", "a", "abc"] * 2000)
    assert (fingerprints([many]) == _string_hash(many)).all() and (_text_hash(many) == _string_hash(many)).all()


def test_last_commit_recognises_a_crashed_run(tmp_path, person, rows):
    root = str(tmp_path / "lake")
    t = Lake(root).curated(person)
    assert t.last_commit("ingest:person") is None
    t.commit(rows(person, ["a"]), app_id="ingest:person", run_seq=7, metadata={"run_id": "r-7"})
    t.commit(rows(person, ["b"]), app_id="backfill", run_seq=1, metadata={"run_id": "other"})
    # the process "crashes" here: all in-memory state is gone; a new process looks at the lake
    fresh = Lake(root).curated(person)
    last = fresh.last_commit("ingest:person")
    assert last is not None
    assert (last.version, last.run_seq, last.metadata, last.rows_inserted) == (0, 7, {"run_id": "r-7"}, 1)
    assert fresh.last_commit("backfill").version == 1
    assert fresh.last_commit("never") is None
    entry = fresh.history()[0]
    assert entry["govhub.run_seq"] == "1" and entry["version"] == 1 and entry["operation"] == "WRITE"


def test_evolve_adds_a_column_and_freeze_refuses_it(lake, person, rows):
    t = lake.curated(person)
    t.commit(rows(person, ["a"]), app_id="x", run_seq=1, metadata=META)
    drifted = rows(person, ["a", "b"], tag="v2").append_column("nickname", pa.array(["A", None]))
    with pytest.raises(LakeError, match=r"carry column\(s\) \['nickname'\].*schema_drift: evolve"):
        t.commit(drifted, app_id="x", run_seq=2, metadata=META)
    info = t.commit(drifted, app_id="x", run_seq=2, metadata=META, evolve=True)
    assert info is not None and (info.rows_inserted, info.rows_updated) == (1, 1)
    current = _by_key(t.read(), "id_number")
    assert current["a"]["nickname"] == "A" and current["b"]["nickname"] is None
    assert t.read().schema.field("id_number").nullable is False


def test_evolve_on_first_load(lake, person, rows):
    t = lake.curated(person)
    drifted = rows(person, ["a"]).append_column("nickname", pa.array(["A"]))
    t.commit(drifted, app_id="x", run_seq=1, metadata=META, evolve=True)
    assert "nickname" in t.read().column_names


def test_missing_contract_column_is_refused(lake, person, rows):
    t = lake.curated(person)
    with pytest.raises(LakeError, match=r"lack contract column\(s\) \['phone'\]"):
        t.commit(rows(person, ["a"]).drop_columns(["phone"]), app_id="x", run_seq=1, metadata=META)


def test_missing_data_file_raises_lake_error(lake, person, rows):
    t = lake.curated(person)
    t.commit(rows(person, ["a", "b"]), app_id="x", run_seq=1, metadata=META)
    for f in Path(t.uri).glob("*.parquet"):
        f.unlink()
    with pytest.raises(LakeError, match=r"curated table 'person' at .* could not be read.*restore"):
        t.read()
    # a run classifies on the row index (this process's, else its file): without either, it scans the base
    shutil.rmtree(Path(t.uri) / "_index")
    index_cache._CACHE.clear()
    with pytest.raises(LakeError, match=r"curated table 'person'.*could not be written"):
        t.commit(rows(person, ["a"], tag="v2"), app_id="x", run_seq=2, metadata=META)


def test_garbage_in_delta_log_raises_lake_error(lake, person, rows):
    t = lake.curated(person)
    t.commit(rows(person, ["a"]), app_id="x", run_seq=1, metadata=META)
    Path(t.uri, "_delta_log", "00000000000000000000.json").write_text("this is not json{")
    with pytest.raises(LakeError, match=r"curated table 'person' at .* could not be opened.*_delta_log"):
        t.version()


def test_row_count_comes_from_the_log_and_matches_the_data(lake, person, rows):
    table = lake.curated(person)
    assert table.row_count() == 0
    table.commit(rows(person, [f"k{i}" for i in range(50)]), app_id="t", run_seq=1, metadata={})
    assert table.row_count() == table.read().num_rows == 50
