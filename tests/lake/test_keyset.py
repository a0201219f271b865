"""KeySet: a compact, fingerprint-based key set answering reference checks like `is_in` would."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake import KeySet
from lake.keyset import _sorted_distinct


def test_membership_matches_is_in_with_nulls_and_misses():
    keys = pa.array([f"43090219{i:010d}" for i in range(0, 20_000, 2)])
    probe = pa.array([f"43090219{i:010d}" for i in range(0, 200)] + [None, ""])
    got = KeySet.of(keys).contains(probe)
    want = pc.if_else(probe.is_valid(), pc.is_in(probe, value_set=keys), pa.scalar(None, pa.bool_()))
    assert got.equals(want)
    assert got.null_count == 1


def test_built_batch_by_batch_equals_built_at_once_and_union():
    batches = [pa.array([str(i) for i in range(s, s + 100)]) for s in range(0, 1000, 100)]
    streamed, whole = KeySet.from_batches(batches), KeySet.of(pa.concat_arrays(batches))
    assert len(streamed) == len(whole) == 1000 and streamed.nbytes == 8000
    probe = pa.array(["5", "999", "1000"])
    assert streamed.contains(probe).to_pylist() == whole.contains(probe).to_pylist() == [True, True, False]
    both = KeySet.of(pa.array(["a"])).union(KeySet.of(pa.array(["b"])))
    assert both.contains(pa.array(["a", "b", "c"])).to_pylist() == [True, True, False]


def test_empty_set_and_non_string_values_compare_as_text():
    assert KeySet.of(pa.array([], pa.string())).contains(pa.array(["x"])).to_pylist() == [False]
    assert KeySet.of(pa.array([42, 7])).contains(pa.array(["42", "8"])).to_pylist() == [True, False]
    assert KeySet.of(pa.array(["x"])).contains(pa.chunked_array([["x"], ["y"]])).to_pylist() == [True, False]


def test_curated_key_set_streams_the_column(lake, person, rows):
    table = lake.curated(person)
    assert len(table.key_set("id_number")) == 0  # no table yet
    keys = [f"k{i:04d}" for i in range(50)]
    table.commit(rows(person, keys), app_id="t", run_seq=1, metadata={})
    table.commit(rows(person, keys[:5], deleted=[True] * 5), app_id="t", run_seq=2, metadata={})
    current = table.key_set("id_number")
    assert len(current) == 45
    assert current.contains(pa.array(keys)).to_pylist() == [False] * 5 + [True] * 45
    assert len(table.key_set("id_number", version=0)) == 50  # time travel


def test_duplicates_across_batches_and_nulls_are_dropped_and_the_callers_prints_stay_untouched():
    batches = [pa.array(["b", "a", None, "b"]), pa.array(["c", "a"]), pa.array([None], pa.string())]
    built = KeySet.from_batches(batches)
    assert len(built) == 3 and built.nbytes == 24
    assert built.contains(pa.array(["a", "b", "c", "d", None])).to_pylist() == [True, True, True, False, None]
    prints = np.array([3, 1, 2, 1], dtype=np.uint64)
    assert len(KeySet(prints)) == 3
    assert prints.tolist() == [3, 1, 2, 1]  # the constructor sorts its own copy


def test_distinct_prints_are_sorted_in_place_without_a_copy():
    """A primary key's prints are all distinct: building keeps the one array (8 bytes a key, not 16-24)."""
    prints = np.array([9, 4, 7, 1], dtype=np.uint64)
    kept = _sorted_distinct(prints)
    assert kept.tolist() == [1, 4, 7, 9] and np.shares_memory(kept, prints)
    assert _sorted_distinct(np.array([5, 5, 2], dtype=np.uint64)).tolist() == [2, 5]


def test_curated_key_set_over_many_batches_and_pending_changes_finds_the_missing_references_of_is_in(lake, person):
    """The streamed key set (64 Ki rows a batch, pool memory handed back between batches) decides as
    `is_in` over the materialised column, over a base of several row groups plus pending changes."""
    from bench.bench_lake import person_rows

    table = lake.curated(person)
    table.commit(person_rows(150_000), app_id="t", run_seq=1, metadata={})
    gone = person_rows(1_000, offset=70_000).append_column("_deleted", pa.array([True] * 1_000))
    table.commit(person_rows(2_000, offset=150_000), app_id="t", run_seq=2, metadata={})
    table.commit(gone, app_id="t", run_seq=3, metadata={})
    held = table.read(columns=["id_number"]).column("id_number")
    assert len(held) == 151_000
    rng = np.random.default_rng(5)
    probe = pa.array([f"43090219{i:010d}" for i in rng.integers(0, 160_000, 20_000)] + [None])
    got = table.key_set("id_number").contains(probe)
    want = pc.if_else(probe.is_valid(), pc.is_in(probe, value_set=held), pa.scalar(None, pa.bool_()))
    assert got.equals(want)
    assert 0 < pc.sum(pc.invert(got)).as_py() < 20_000  # some missing (deleted, never loaded), some found


def _sorted(table: pa.Table, key: str) -> list[dict]:
    return table.sort_by(key).to_pylist()


def test_rows_for_some_keys_equals_filtering_the_whole_read(lake, person, legal_entity, rows):
    """`rows_for` streams the table and keeps the asked keys' current rows: the rows (and columns) a
    whole `read` filtered by key gives, over base and pending changes, deletes and tombstones alike."""
    for contract in (person, legal_entity):  # person deletes rows, legal_entity keeps tombstones
        table = lake.curated(contract)
        pk = contract.primary_key[0]
        keys = [f"k{i:04d}" for i in range(300)]
        asked = pa.table({pk: pa.array([*keys[::7], "absent", None, keys[0]], pa.string())})
        assert table.rows_for(asked).num_rows == 0  # no table yet
        table.commit(rows(contract, keys), app_id="t", run_seq=1, metadata={})
        table.commit(rows(contract, keys[:40], tag="v2"), app_id="t", run_seq=2, metadata={})
        table.commit(rows(contract, keys[30:60], deleted=[True] * 30), app_id="t", run_seq=3, metadata={})
        whole = table.read()
        wanted = pc.is_in(whole.column(pk), value_set=asked.column(pk).drop_null())
        assert _sorted(table.rows_for(asked), pk) == _sorted(whole.filter(wanted), pk)
        cursor = contract.source.cursor
        picked = table.rows_for(asked, columns=[pk, cursor])
        assert picked.column_names == [pk, cursor]
        assert _sorted(picked, pk) == _sorted(whole.filter(wanted).select([pk, cursor]), pk)
