"""The pieces a large snapshot delivery leans on: pseudonyms, the spilled buckets' batches, one pass per target."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import exchange.delivery.snapshot as snapshot_module
from exchange.delivery.masking import pseudonymise


@pytest.mark.parametrize("secret", [b"k", b"s" * 64, b"long-" * 20], ids=["short", "one-block", "longer-than-a-block"])
def test_pseudonyms_are_the_hmac_sha256_of_department_resource_and_value(secret: bytes) -> None:
    values = ["430902199001011234", None, "", "益阳"]
    got = pseudonymise(pa.array(values, pa.string()), secret=secret, department="D1", resource="person").to_pylist()
    want = [
        None if v is None else hmac.new(secret, f"D1|person|{v}".encode(), hashlib.sha256).hexdigest() for v in values
    ]
    assert got == want


def _keys(n: int, seed: int) -> list[str]:
    return [hashlib.sha256(f"{seed}-{i}".encode()).hexdigest() for i in range(n)]


def test_spilled_buckets_cut_each_view_once_and_drain_full_batches(monkeypatch, tmp_path: Path) -> None:
    """Slices of many views are written together (not a batch of a few rows per view and prefix); the drain
    yields full batches in key order and removes the files."""
    monkeypatch.setattr(snapshot_module, "BATCH_ROWS", 500)
    monkeypatch.setattr(snapshot_module._Buckets, "FLUSH_ROWS", 2000)
    writes: list[int] = []
    real_new_file = pa.ipc.new_file

    class Counted:  # the bucket file's writer, counting the batches written to it
        def __init__(self, *args, **kwargs) -> None:
            self.writer = real_new_file(*args, **kwargs)

        def write_table(self, table: pa.Table) -> None:
            writes.append(table.num_rows)
            self.writer.write_table(table)

        def close(self) -> None:
            self.writer.close()

    monkeypatch.setattr(pa.ipc, "new_file", Counted)
    schema = pa.schema([pa.field("id_number", pa.string()), pa.field("n", pa.int64())])
    buckets = snapshot_module._Buckets(tmp_path, schema, "id_number")
    keys = []
    for seed in range(10):  # 10 views of 700 rows: written in 3 flushes and the drain's, not once per view
        view = _keys(700, seed)
        keys += view
        buckets.add(pa.table({"id_number": view, "n": range(len(view))}, schema=schema))
    out = list(buckets.drain(["id_number"]))
    assert len(writes) <= 4 * 256 and sum(writes) == 7000  # once per view would be up to 10 per prefix
    assert [b.num_rows for b in out[:-1]] == [500] * (len(out) - 1) and 0 < out[-1].num_rows <= 500
    drained = pa.Table.from_batches(out).column("id_number").to_pylist()
    assert drained == sorted(keys)
    assert list(tmp_path.iterdir()) == []


def test_spilled_snapshot_of_composite_keys_is_in_key_order(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(snapshot_module, "SPILL_ABOVE_ROWS", 100)
    monkeypatch.setattr(snapshot_module._Buckets, "FLUSH_ROWS", 150)
    first = _keys(40, 1)
    views = [
        pa.table({"a": [first[i % 40] for i in range(v * 60, v * 60 + 60)], "b": list(range(60))}) for v in range(5)
    ]
    schema = views[0].schema
    out = pa.Table.from_batches(
        list(snapshot_module._ordered_by_pseudonym(iter(views), ["a", "b"], schema, spill_dir=str(tmp_path))),
        schema=schema,
    )
    expected = pa.concat_tables(views).sort_by([("a", "ascending"), ("b", "ascending")])
    assert out.num_rows == 300 and out.equals(expected)
    assert pc.all(pc.equal(out.column("a"), expected.column("a"))).as_py()


def test_pseudonyms_of_a_non_text_key_hash_its_decimal_text() -> None:
    got = pseudonymise(pa.array([7, None], pa.int64()), secret=b"k", department="D1", resource="r").to_pylist()
    assert got == [hmac.new(b"k", b"D1|r|7", hashlib.sha256).hexdigest(), None]
