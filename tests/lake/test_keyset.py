"""KeySet: a compact, fingerprint-based key set answering reference checks like `is_in` would."""

import pyarrow as pa
import pyarrow.compute as pc

from lake import KeySet


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
