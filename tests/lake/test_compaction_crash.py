"""kill -9 at the points of a compaction, then a re-run: the state, every version, the feed and the files
of one clean compaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lake import Lake, commit_manifest, compaction_manifest, verify_files
from schemas import load_contract
from tests.lake.conftest import make_rows

ROOT = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from lake import Lake
    from lake.curated import CuratedTable
    from schemas import load_contract

    root, point = sys.argv[1], sys.argv[2]
    original = CuratedTable._merge

    def crashing(self, *args, **kwargs):
        if point == "before_merge":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(self, *args, **kwargs)
        if point == "after_merge":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    CuratedTable._merge = crashing
    table = Lake(root).curated(load_contract("person"))
    print("compacting", flush=True)
    table.compact()
    """
)


def _lake(root: Path) -> tuple[Lake, dict[int, dict]]:
    """A person table: a first load of 30,000 rows, then four runs of changes (manifests kept)."""
    person = load_contract("person")
    table = Lake(str(root)).curated(person)
    keys = [f"k{i:06d}" for i in range(30_000)]
    manifests = {}
    info = table.commit(make_rows(person, keys), app_id="x", run_seq=1, metadata={})
    manifests[info.version] = commit_manifest(table, info.version)
    for run in range(4):
        changed = keys[run * 1000 : run * 1000 + 3000 : 3] + [f"n{run}-{i}" for i in range(50)]
        dead = [i % 10 == 0 for i in range(len(changed))]
        info = table.commit(
            make_rows(person, changed, tag=f"r{run}", deleted=dead), app_id="x", run_seq=run + 2, metadata={}
        )
        manifests[info.version] = commit_manifest(table, info.version)
    return Lake(str(root)), manifests


def _picture(lake: Lake) -> dict:
    table = lake.curated(load_contract("person"))
    versions = {v: table.read(version=v).sort_by("id_number") for v in range(table.version() + 1)}
    feed = table.changes(after_version=0).drop_columns(["_commit_timestamp"])
    return {"versions": versions, "feed": feed.sort_by([("_commit_version", "ascending"), ("id_number", "ascending")])}


def _with_compactions(lake: Lake, manifests: dict[int, dict]) -> dict[int, dict]:
    table = lake.curated(load_contract("person"))
    out = {v: dict(m) for v, m in manifests.items()}
    for c in table.compactions():
        out[c.dataset_version].setdefault("compactions", []).append(compaction_manifest(table, c.base_version))
    return out


def _child(root: Path, point: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root), point], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("point", ["before_merge", "after_merge", "timed:0.02", "timed:0.1", "timed:0.25", "timed:0.5"])
def test_kill_during_compaction_then_rerun_equals_one_clean_compaction(tmp_path: Path, point: str) -> None:
    clean_lake, manifests = _lake(tmp_path / "clean")
    expected = _picture(clean_lake)
    clean_lake.curated(load_contract("person")).compact()
    assert _picture(clean_lake)["versions"].keys() == expected["versions"].keys()

    lake, manifests = _lake(tmp_path / "crashed")
    if point.startswith("timed:"):  # killed wherever the compaction is after that long (mid-write too)
        child = _child(tmp_path / "crashed", "none")
        assert child.stdout is not None and child.stdout.readline().strip() == "compacting"
        time.sleep(float(point.split(":")[1]))
        child.send_signal(signal.SIGKILL)
        child.wait(60)
    else:
        assert _child(tmp_path / "crashed", point).wait(120) == -signal.SIGKILL
    table = lake.curated(load_contract("person"))
    table.compact()  # the re-run: compacts, or finds the killed one's commit done
    assert len(table.compactions()) == 1 and table.pending_rows()[0] == 0
    after = _picture(lake)
    for v, rows in expected["versions"].items():
        assert after["versions"][v].equals(rows), (point, v)
    assert after["feed"].equals(expected["feed"]), point
    report = verify_files(table, _with_compactions(lake, manifests))
    assert report.ok, [p.detail for p in report.problems]


def test_files_a_killed_compaction_left_are_removed_by_the_next(tmp_path: Path) -> None:
    lake, manifests = _lake(tmp_path / "lake")
    table = lake.curated(load_contract("person"))
    planted = Path(table.uri) / "part-00001-left-by-a-killed-merge.c000.snappy.parquet"
    planted.write_bytes((Path(table.uri) / manifests[0]["files"][0]["path"]).read_bytes())
    assert not verify_files(table, manifests).ok
    table.compact()
    assert not planted.exists() and verify_files(table, _with_compactions(lake, manifests)).ok
