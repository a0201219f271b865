"""The row index kept beside the table: a cold worker loads it instead of scanning, never trusts a wrong one,
and a process killed between a data commit and the index write leaves a table the next run counts right."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from lake_steps import Runs

import lake._index as index_module
from lake import verify_files
from lake._index_file import INDEX_DIR, write_index
from lake._row_index import base_id, columns_of
from lake.curated import CuratedTable

ROOT = Path(__file__).resolve().parents[2]


def _cold() -> None:
    """What a fresh process holds: no row index in memory."""
    index_module._CACHE.clear()


def _cold_watched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A fresh process (no row index in memory) whose every scan to build an index is recorded."""
    _cold()
    return _no_scans(monkeypatch)


def _no_scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every scan a run makes to build an index (of the base or of the pending changes)."""
    scans: list[str] = []
    for name in ("_scan_base", "_scan_pending"):
        original = getattr(CuratedTable, name)

        def recording(self, *args, __name=name, __original=original, **kwargs):
            scans.append(__name)
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(CuratedTable, name, recording)
    return scans


def _files(table: CuratedTable) -> list[str]:
    return sorted(p.name for p in (Path(table.uri) / INDEX_DIR).glob("*.arrow"))


def _counts(info) -> tuple[int, int, int]:
    return (info.rows_inserted, info.rows_updated, info.rows_deleted)


def _loaded(lake, contract, rows, n: int = 50) -> Runs:
    """The table of `contract` with the keys k000, k001, … loaded as run 1."""
    runs = Runs(lake.curated(contract), rows)
    runs.run([f"k{i:03d}" for i in range(n)])
    return runs


def _in_child(code: str, lake) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh Python process (a worker), the lake's root as its argument."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(Path(lake.root))],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_first_load_writes_the_base_index_and_a_cold_run_reads_no_table(lake, person, rows, monkeypatch):
    runs = _loaded(lake, person, rows)
    t = runs.table
    assert [n.split("-")[0] for n in _files(t)] == ["base"]
    assert t.row_index_problems() == []  # what the load took as rows streamed by equals a scan of the base
    scans = _cold_watched(monkeypatch)
    info = runs.run(["k001", "k002", "new"], tag="v2", deleted=[False, True, False])
    assert _counts(info) == (1, 1, 1)
    _cold()
    info = runs.run(["k001", "k003"], tag="v2")
    assert _counts(info) == (0, 1, 0)  # k001 re-sent as the pending change has it: dropped
    assert scans == []  # neither the base nor the change table was scanned to classify
    assert [n.split("-")[0] for n in _files(t)] == ["base", "changes"]  # older change indexes pruned
    assert t.row_index_problems() == []


def test_the_index_survives_a_process_restart(lake, person, rows):
    runs = _loaded(lake, person, rows)
    runs.run(["k001", "n1"], tag="v2")
    out = _in_child(
        """
        import sys
        from lake import Lake
        from lake.curated import CuratedTable
        from schemas import load_contract
        from tests.lake.conftest import make_rows

        def refuse(self, *args, **kwargs):
            raise AssertionError("scanned")

        CuratedTable._scan_base = refuse
        CuratedTable._scan_pending = refuse
        t = Lake(sys.argv[1]).curated(load_contract("person"))
        info = t.commit(make_rows(t.contract, ["k001", "k002", "n2"], tag="v2"), app_id="x", run_seq=3, metadata={})
        print(info.rows_inserted, info.rows_updated, info.rows_deleted)
        """,
        lake,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1", "0"]  # k001 as pending: dropped; k002 updated; n2 new


def _corrupt(path: Path, how: str) -> None:
    if how == "missing":
        path.unlink()
    elif how == "torn":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "flipped":  # one bit of a stored row print (a bit in padding would change nothing)
        import pyarrow as pa

        with pa.memory_map(str(path)) as source:
            first_row = pa.ipc.open_file(source).get_batch(0).column("row")[0].as_py()
        data = bytearray(path.read_bytes())
        at = data.index(int(first_row).to_bytes(8, "little"))
        data[at] ^= 0x01
        path.write_bytes(bytes(data))
    elif how == "garbage":
        path.write_bytes(b"not an index")


@pytest.mark.parametrize("how", ["missing", "torn", "flipped", "garbage"])
@pytest.mark.parametrize("kind", ["base", "changes"])
def test_a_missing_or_corrupt_index_is_rebuilt_by_a_scan_and_counts_stay_right(
    lake, legal_entity, rows, monkeypatch, caplog, kind, how
):
    runs = _loaded(lake, legal_entity, rows)
    t = runs.table
    runs.run(["k001", "k002"], tag="v2", deleted=[False, True])
    (victim,) = [p for p in (Path(t.uri) / INDEX_DIR).glob(f"{kind}-*.arrow")]
    _corrupt(victim, how)
    scans = _cold_watched(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="lake._index_file"):
        info = runs.run(["k001", "k002", "k003", "n1"], tag="v2", deleted=[False, False, True, False])
    assert _counts(info) == (1, 2, 0)  # k001 pending as sent: dropped; k002 revived, k003 tombstoned; n1 new
    assert scans == ["_scan_base" if kind == "base" else "_scan_pending"]
    assert any("rebuilding it by a scan" in r.getMessage() for r in caplog.records)
    assert t.row_index_problems() == []  # the rebuilt index was written again, and it is right (a scan too)
    scans.clear()
    _cold()
    runs.run(["k004"], tag="v3")
    assert scans == []  # the rebuild is paid once, not by every cold run


def test_an_index_of_another_table_or_column_set_is_not_trusted(lake, tmp_path, person, rows, caplog, monkeypatch):
    runs = _loaded(lake, person, rows)
    other = Runs(type(lake)(str(tmp_path / "other")).curated(person), rows)
    other.run(["zzz"])
    (mine,) = (Path(runs.table.uri) / INDEX_DIR).glob("base-*.arrow")
    (theirs,) = (Path(other.table.uri) / INDEX_DIR).glob("base-*.arrow")
    mine.write_bytes(theirs.read_bytes())  # a valid file with a good digest, of another table
    scans = _cold_watched(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="lake._index_file"):
        info = runs.run(["k001", "zzz"], tag="v2")
    assert _counts(info) == (1, 1, 0)
    assert scans == ["_scan_base"] and any("is stale" in r.getMessage() for r in caplog.records)


def test_verify_names_an_index_that_disagrees_with_the_table(lake, person, rows):
    from lake import commit_manifest

    t = _loaded(lake, person, rows).table
    manifests = {0: commit_manifest(t, 0)}
    assert verify_files(t, manifests).ok
    dt = t._open()
    schema = t._state_schema(t._layout())
    values, columns = columns_of(schema, ["id_number"], "_deleted")
    good = index_module.RowIndex.build([t.read()], ["id_number"], [schema.field("id_number").type], values)
    keep = np.arange(len(good.keys)) != 7  # one key dropped, written with a valid digest
    wrong = index_module.RowIndex(good.keys[keep], good.rows[keep], good.state[keep], good.columns)
    write_index(t.uri, t.storage_options, base_id(dt, columns), wrong)
    report = verify_files(t, manifests)
    assert [(p.kind, p.path.split("/")[0]) for p in report.problems] == [("changed", INDEX_DIR)]
    assert "1 key(s) of the table are not in it" in report.problems[0].detail


def test_a_compaction_writes_the_new_base_index(lake, person, rows, monkeypatch):
    runs = _loaded(lake, person, rows)
    t = runs.table
    runs.run(["k001", "k002", "n1"], tag="v2", deleted=[False, True, False])
    # a compaction in a cold process: the old base's index and the pending one from their files
    scans = _cold_watched(monkeypatch)
    info = t.compact()
    assert info is not None and scans == []
    assert f"base-{info.base_version:012d}" in " ".join(_files(t))
    assert not any(n.startswith("changes-") for n in _files(t))  # the pending index before it is pruned
    assert t.row_index_problems() == []
    scans.clear()
    _cold()
    got = runs.run(["k002", "k005", "n1"], tag="v2")
    assert _counts(got) == (1, 1, 0)  # k002 back (deleted), n1 re-sent as is, k005 updated
    assert scans == []


def test_a_run_killed_between_its_commit_and_the_index_write_is_counted_right_next_time(lake, person, rows):
    runs = _loaded(lake, person, rows)
    t = runs.table
    out = _in_child(
        """
        import os, signal, sys
        import lake._row_index
        from lake import Lake
        from schemas import load_contract
        from tests.lake.conftest import make_rows

        def killed(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

        lake._row_index.write_index = killed
        t = Lake(sys.argv[1]).curated(load_contract("person"))
        t.commit(make_rows(t.contract, ["k001", "n1"], tag="v2"), app_id="x", run_seq=2, metadata={})
        """,
        lake,
    )
    assert out.returncode == -9, out.stderr
    assert t.last_commit("x").run_seq == 2  # the change was committed, its index was not written
    assert not any(n.startswith("changes-") for n in _files(t))
    runs.seq = 2  # the killed child's run: the next is 3
    _cold()
    info = runs.run(["k001", "n1", "n2", "k004"], tag="v2")
    assert _counts(info) == (1, 1, 0)  # k001 and n1 as the killed run left them: dropped
    assert t.row_index_problems() == []
    assert t.row_count() == 52


def test_the_index_lives_in_an_s3_lake_too(s3_lake, person, rows, monkeypatch):
    runs = _loaded(s3_lake, person, rows, n=20)
    t = runs.table
    runs.run(["k001", "n1"], tag="v2")
    scans = _cold_watched(monkeypatch)
    info = runs.run(["k001", "k002", "n2"], tag="v2")
    assert _counts(info) == (1, 1, 0) and scans == []
    assert t.row_index_problems() == []
    assert any(str(p).startswith(f"{INDEX_DIR}/base-") for p in _s3_names(s3_lake, t))


def _s3_names(lake, table: CuratedTable) -> list[str]:
    from lake._fs import filesystem_for

    fs, path = filesystem_for(table.uri, table.storage_options)
    infos = fs.get_file_info(__import__("pyarrow.fs").fs.FileSelector(f"{path}/{INDEX_DIR}"))
    return [f"{INDEX_DIR}/{i.base_name}" for i in infos]


def test_a_text_value_prints_the_same_whichever_way_its_batch_is_hashed():
    """Row prints are compared across batches (the base's, a run's): a value's print must not depend on
    whether its batch is fixed-width, dictionary-encoded, sliced or mixed."""
    import random

    import pyarrow as pa

    from lake._changes import _word_hash

    values = ["", "a", "abcdefgh", "abcdefghi", "中文名字", "x" * 17, None, "湖南省益阳市赫山区某某街道123号"]
    alone = {v: int(_word_hash(pa.array([v], pa.string()))[0]) for v in values}
    assert alone[None] == 0 and len(set(alone.values())) == len(values)
    rng = random.Random(7)
    for _ in range(60):
        pool = rng.sample(values, rng.randint(1, len(values)))
        batch = pa.array([rng.choice(pool) for _ in range(rng.choice([1, 5, 5000]))], pa.string())
        if len(batch) > 2 and rng.random() < 0.5:
            batch = batch.slice(1)
        assert [int(h) for h in _word_hash(batch)] == [alone[v] for v in batch.to_pylist()]


@pytest.mark.parametrize("resource", ["person", "legal_entity", "credit_record", "payment"])
def test_every_contracts_index_agrees_with_a_scan_after_load_changes_and_compaction(lake, rows, resource):
    """Every column type the contracts use prints the same in the load's stream, a run's rows and a scan."""
    from schemas import load_contract

    contract = load_contract(resource)
    runs = _loaded(lake, contract, rows, n=40)
    t = runs.table
    assert t.row_index_problems() == []
    runs.run(["k001", "k002", "new"], tag="v2", deleted=[False, True, False])
    assert t.row_index_problems() == []
    t.compact()
    assert t.row_index_problems() == []
    _cold()
    again = runs.run(["k001", "k002", "new"], tag="v2")
    assert again is not None and _counts(again) == ((1, 0, 0) if contract.deletes == "delete" else (0, 1, 0))


def test_a_new_column_makes_the_old_index_stale_and_the_counts_stay_right(lake, legal_entity, rows, caplog):
    import pyarrow as pa

    runs = _loaded(lake, legal_entity, rows)
    drifted = rows(legal_entity, ["k001"], tag="v2").append_column("nickname", pa.array(["B"]))
    runs.commit(drifted, evolve=True)
    _cold()
    with caplog.at_level(logging.WARNING, logger="lake._index_file"):
        info = runs.run(["k001", "k002"], tag="v2")
    assert _counts(info) == (0, 2, 0)  # k001 loses its nickname: an update; k002 changed
    assert any("is stale" in r.getMessage() for r in caplog.records)  # indexed without the new column
    assert runs.table.row_index_problems() == []


def test_the_first_loads_tap_gives_the_index_a_scan_would_and_refuses_a_short_stream(person, rows):
    import pyarrow as pa

    from lake._changes import fingerprints

    table = rows(person, [f"k{i:04d}" for i in range(5000)])
    values = [n for n in table.column_names if n != "id_number"]
    built = index_module.RowIndex.build([table], ["id_number"], [pa.string()], values)
    for key_prints in (None, fingerprints([table.column("id_number")])):
        tap = index_module.IndexTap(["id_number"], key_prints)
        assert sum(b.num_rows for b in tap.wrap(table.to_batches(max_chunksize=1024))) == 5000
        got = tap.index()
        assert got is not None and got.columns == built.columns
        assert np.array_equal(got.keys, built.keys) and np.array_equal(got.rows, built.rows)
    short = index_module.IndexTap(["id_number"], fingerprints([table.column("id_number")]))
    list(short.wrap(table.slice(0, 4000).to_batches()))
    assert short.index() is None  # the load's prints and the rows it streamed disagree: no index written
