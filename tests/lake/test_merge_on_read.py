"""Merge-on-read: the change table, compaction, time travel across both, old-layout tables, outside views."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from lake_steps import duckdb_with_delta

from lake import Lake
from lake.curated import TABLE_CONFIGURATION

META = {"run_id": "r"}


def _state(table, **kw) -> dict[str, dict]:
    key = table.contract.primary_key[0]
    return {r[key]: r for r in table.read(**kw).to_pylist()}


def _five_versions(lake: Lake, person, rows):
    """v0 first load a..e; v1 update b, delete c, insert f; v2 update b again, delete f; v3 insert c back."""
    t = lake.curated(person)
    t.commit(rows(person, list("abcde")), app_id="x", run_seq=1, metadata=META)
    t.commit(
        rows(person, ["b", "c", "f"], tag="v1", deleted=[False, True, False]), app_id="x", run_seq=2, metadata=META
    )
    t.commit(rows(person, ["b", "f"], tag="v2", deleted=[False, True]), app_id="x", run_seq=3, metadata=META)
    t.commit(rows(person, ["c"], tag="v3"), app_id="x", run_seq=4, metadata=META)
    return t


def test_runs_append_to_the_change_table_and_leave_the_base_alone(lake, person, rows):
    t = _five_versions(lake, person, rows)
    assert DeltaTable(t.uri).version() == 0  # the base: only the first load
    assert DeltaTable(f"{t.uri}/_changes").version() == 2
    assert t.version() == 3
    state = _state(t)
    assert sorted(state) == list("abcde")
    assert (state["b"]["name"], state["c"]["name"], state["a"]["name"]) == ("name-v2", "name-v3", "name-v1")
    assert t.row_count() == 5
    assert sorted(_state(t, version=1)) == list("abdef") and _state(t, version=1)["b"]["name"] == "name-v1"
    assert sorted(_state(t, version=2)) == list("abde")
    assert sorted(t.key_set("id_number", version=2).contains(pa.array(list("abcf"))).to_pylist()) == [
        False,
        False,
        True,
        True,
    ]
    info = t.last_commit("x")
    assert (info.version, info.run_seq, info.rows_inserted) == (3, 4, 1)


def test_a_feed_over_several_versions_collapses_like_the_delivery_does(lake, person, rows):
    from exchange.delivery.feed import net_changes

    t = _five_versions(lake, person, rows)
    feed = t.changes(after_version=0, to_version=3)
    assert sorted(feed.column("_commit_version").to_pylist()) == [1, 1, 1, 2, 2, 3]
    net = net_changes(feed, person, snapshot=False)
    kinds = {r["id_number"]: r["_change_type"] for r in net.table.to_pylist()}
    assert kinds == {"b": "update", "c": "update"}  # f was born and died inside the range
    assert t.changes(after_version=2, to_version=3).column("id_number").to_pylist() == ["c"]


def test_compaction_keeps_every_version_and_feed_and_records_its_point(lake, person, rows):
    t = _five_versions(lake, person, rows)
    before = {v: t.read(version=v).sort_by("id_number") for v in range(4)}
    feed = t.changes(after_version=0).sort_by([("_commit_version", "ascending"), ("id_number", "ascending")])
    assert t.compact(threshold=1.5) is None  # 6 pending rows: not above 150 % of 5
    info = t.compact()
    assert (info.base_version, info.compacted_through, info.dataset_version) == (1, 2, 3)
    assert DeltaTable(t.uri).history(1)[0]["govhub.compacted_through"] == "2"
    assert t.pending_rows() == (0, 5) and t.compact() is None
    assert t.version() == 3
    for v, table in before.items():
        assert t.read(version=v).sort_by("id_number").equals(table), v
    again = t.changes(after_version=0).sort_by([("_commit_version", "ascending"), ("id_number", "ascending")])
    assert again.drop_columns(["_commit_timestamp"]).equals(feed.drop_columns(["_commit_timestamp"]))
    t.commit(rows(person, ["a"], tag="v4", deleted=[True]), app_id="x", run_seq=5, metadata=META)
    assert sorted(_state(t)) == list("bcde") and t.row_count() == 4
    assert [c.compacted_through for c in t.compactions()] == [2]
    assert [e["version"] for e in t.history()] == [4, 3, 2, 1, 0]


def test_a_compaction_of_changes_already_in_the_base_still_records_its_point(lake, person, rows):
    t = lake.curated(person)
    t.commit(rows(person, ["a"]), app_id="x", run_seq=1, metadata=META)
    t.commit(rows(person, ["b"], tag="new"), app_id="x", run_seq=2, metadata=META)
    t.commit(rows(person, ["b"], deleted=[True]), app_id="x", run_seq=3, metadata=META)
    info = t.compact()  # b was inserted and deleted: the MERGE changes nothing
    assert info is not None and info.compacted_through == 1 and t.pending_rows()[0] == 0
    assert sorted(_state(t)) == ["a"]


def test_tombstones_and_schema_evolution_survive_compaction(lake, legal_entity, rows):
    t = lake.curated(legal_entity)
    key = legal_entity.primary_key[0]
    t.commit(rows(legal_entity, ["a", "b"]), app_id="x", run_seq=1, metadata=META)
    drifted = rows(legal_entity, ["b"], tag="v2").append_column("nickname", pa.array(["B"]))
    t.commit(drifted, app_id="x", run_seq=2, metadata=META, evolve=True)
    t.commit(rows(legal_entity, ["a"], tag="gone", deleted=[True]), app_id="x", run_seq=3, metadata=META)
    state = {r[key]: r for r in t.read().to_pylist()}
    assert state["a"]["_deleted"] is True and state["a"]["nickname"] is None
    assert state["b"]["nickname"] == "B" and state["b"]["_deleted"] is False
    t.compact()
    assert {r[key]: r for r in t.read().to_pylist()} == state
    assert t.read().schema.field(key).nullable is False


def test_a_resend_of_a_pending_change_appends_nothing(lake, person, rows):
    t = lake.curated(person)
    t.commit(rows(person, ["a", "b"]), app_id="x", run_seq=1, metadata=META)
    t.commit(rows(person, ["a"], tag="v2"), app_id="x", run_seq=2, metadata=META)
    assert t.commit(rows(person, ["a"], tag="v2"), app_id="x", run_seq=3, metadata=META) is None
    assert t.commit(rows(person, ["a", "b"], tag="v1"), app_id="x", run_seq=3, metadata=META).rows_updated == 1
    assert t.version() == 2


def test_a_table_written_before_the_change_table_reads_and_grows(lake, person, rows):
    t = lake.curated(person)
    base = rows(person, ["a", "b", "c"])
    write_deltalake(t.uri, base, configuration=TABLE_CONFIGURATION)  # an old-layout table: MERGEs into the base
    DeltaTable(t.uri).merge(
        rows(person, ["b"], tag="old"), "t.id_number = s.id_number", "s", "t"
    ).when_matched_update_all().execute()
    assert t.version() == 1 and _state(t)["b"]["name"] == "name-old" and t.row_count() == 3
    info = t.commit(rows(person, ["c", "d"], tag="new", deleted=[True, False]), app_id="x", run_seq=1, metadata=META)
    assert (info.version, info.rows_inserted, info.rows_deleted) == (2, 1, 1)
    assert sorted(_state(t)) == ["a", "b", "d"] and sorted(_state(t, version=1)) == ["a", "b", "c"]
    kinds = sorted((r["id_number"], r["_change_type"]) for r in t.changes(after_version=0).to_pylist())
    assert kinds == [("b", "update_postimage"), ("b", "update_preimage"), ("c", "delete"), ("d", "insert")]
    assert t.locate(1) == ("", 1) and t.locate(2) == ("_changes", 0)


def test_scan_streams_base_then_changes_in_a_stable_order(lake, person, rows):
    t = lake.curated(person)
    t.commit(rows(person, [f"k{i:03d}" for i in range(300)]), app_id="x", run_seq=1, metadata=META)
    t.commit(rows(person, [f"k{i:03d}" for i in range(0, 300, 7)], tag="v2"), app_id="x", run_seq=2, metadata=META)
    batches = list(t.scan(batch_rows=50))
    assert max(b.num_rows for b in batches) <= 50
    first = pa.Table.from_batches(batches)
    assert first.num_rows == 300 and first.equals(pa.Table.from_batches(list(t.scan(batch_rows=50))))
    assert first.column("id_number").to_pylist()[-43:] == [f"k{i:03d}" for i in range(0, 300, 7)]


def test_the_duckdb_view_reads_what_the_hub_reads(lake, person, legal_entity, rows):
    from lake.views import view_sql

    con = duckdb_with_delta()
    t = _five_versions(lake, person, rows)
    tomb = lake.curated(legal_entity)
    tomb.commit(rows(legal_entity, ["a", "b"]), app_id="x", run_seq=1, metadata=META)
    tomb.commit(rows(legal_entity, ["a"], deleted=[True]), app_id="x", run_seq=2, metadata=META)
    for table in (t, tomb):
        key = table.contract.primary_key[0]
        stale = view_sql(table, name=f"{table.contract.resource}_stale")
        for step in ("pending", "compacted"):
            con.execute(view_sql(table))
            con.execute(stale)  # generated before the compaction: still right
            for view in (table.contract.resource, f"{table.contract.resource}_stale"):
                seen = con.execute(f"SELECT * FROM {view} ORDER BY {key}").fetch_arrow_table()
                hub = table.read().sort_by(key)
                assert seen.column_names == hub.column_names, (step, view)
                assert seen.to_pylist() == hub.to_pylist(), (step, view)
            table.compact()
    assert "delta.`" in view_sql(t, "spark") and 'govhub."person_changes"' in view_sql(t, "trino")


def test_a_warm_process_carries_its_row_index_across_a_compaction(lake, person, rows, monkeypatch):
    from lake._index import RowIndex

    t = _five_versions(lake, person, rows)
    t.compact()
    built = []
    original = RowIndex.build.__func__

    def counting(cls, tables, *args, **kwargs):
        tables = list(tables)
        built.extend(tables)
        return original(cls, tables, *args, **kwargs)

    monkeypatch.setattr(RowIndex, "build", classmethod(counting))
    info = t.commit(
        rows(person, ["c", "a", "g"], tag="v3", deleted=[False, True, False]), app_id="x", run_seq=9, metadata={}
    )
    assert (info.rows_inserted, info.rows_updated, info.rows_deleted) == (1, 0, 1)  # c re-sent as it is: dropped
    assert built == []  # neither the base nor the pending changes were read to classify the run
    assert sorted(_state(t)) == ["b", "c", "d", "e", "g"]


def test_a_table_recreated_in_place_is_not_classified_with_the_old_ones_index(lake, person, rows):
    import shutil

    t = lake.curated(person)
    t.commit(rows(person, ["a", "b"]), app_id="x", run_seq=1, metadata=META)
    t.commit(rows(person, ["a"], tag="v2"), app_id="x", run_seq=2, metadata=META)  # the index is cached
    shutil.rmtree(t.uri)
    t.commit(rows(person, ["c", "d"]), app_id="x", run_seq=1, metadata=META)
    info = t.commit(rows(person, ["a", "c"], tag="v2", deleted=[True, False]), app_id="x", run_seq=2, metadata=META)
    assert (info.rows_inserted, info.rows_updated, info.rows_deleted) == (0, 1, 0)  # a is unknown here


def test_reading_some_columns_without_the_key_still_applies_the_pending_changes(lake, person, rows):
    t = _five_versions(lake, person, rows)
    names = t.read(columns=["name"])
    assert names.column_names == ["name"]
    assert sorted(names.column("name").to_pylist()) == sorted(r["name"] for r in _state(t).values())
    assert sorted(t.read(columns=["name"], version=2).column("name").to_pylist()) == sorted(
        r["name"] for r in _state(t, version=2).values()
    )
