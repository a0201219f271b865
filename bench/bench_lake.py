"""Lake benchmark: first load of 1 M person rows vs plain Parquet, then a 1 % MERGE vs the first load.

Run: .venv/bin/python bench/bench_lake.py [--rows 1000000] [--repeat 3]
Each measurement runs in a fresh child process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import arrow_schema, load_contract

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._harness import in_child, vmhwm_mb

CONTRACT = load_contract("person")


def person_rows(n: int, *, seed: int = 1, offset: int = 0, tag: str = "") -> pa.Table:
    """n person-shaped rows with unique id_numbers (index offset..offset+n), fast via numpy."""
    rng = np.random.default_rng(seed)
    schema = arrow_schema(CONTRACT)
    idx = pa.array(np.arange(offset, offset + n, dtype=np.int64))
    ids = pc.binary_join_element_wise("43090219", pc.utf8_lpad(pc.cast(idx, pa.string()), 10, "0"), "")

    def pick(values: list[str]) -> pa.Array:
        return pa.array(values).take(pa.array(rng.integers(0, len(values), n)))

    days = rng.integers(0, 30000, n).astype("int32") - 15000
    cols = {
        "id_number": ids,
        "name": pick([f"{s}{g}{tag}" for s in "王李张刘陈杨黄赵周吴" for g in ("伟", "芳", "娜", "敏", "静")]),
        "gender": pick(["1", "2"]),
        "ethnicity": pick(["01", "06", "13", "15"]),
        "birth_date": pa.array(days, pa.date32()),
        "birth_place": pick(["湖南省益阳市", "湖南省长沙市", None]),
        "household_address": pick([f"湖南省益阳市赫山区{i}号{tag}" for i in range(500)]),
        "region_code": pick(["430902", "430903", "430921", "430922", "430923", "430981"]),
        "household_number": pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 10**9, n)), pa.string()), 9, "0"),
        "phone": pick(["13800000000", "13912345678", None]),
        "status": pick(["1", "1", "1", "2", "3"]),
        "updated_at": pa.array(rng.integers(1.7e15, 1.72e15, n), pa.timestamp("us", tz="UTC")),
    }
    return pa.table(cols, schema=schema)


def change_batch(n: int, *, clustered: bool) -> pa.Table:
    """1 % of n as changes: 90 % updates, 5 % inserts, 5 % deletes (random or clustered keys)."""
    k = n // 100
    rng = np.random.default_rng(7)
    keys = np.arange(0, k * 19 // 20) + n // 2 if clustered else rng.choice(n, k * 19 // 20, replace=False)
    keys = np.sort(keys)
    upd_keys, del_keys = keys[: k * 18 // 20], keys[k * 18 // 20 :]
    parts = [
        _with_deleted(_rows_for(upd_keys, tag="改"), False),
        _with_deleted(person_rows(k // 20, seed=3, offset=n + 1, tag="新"), False),
        _with_deleted(_rows_for(del_keys, tag=""), True),
    ]
    return pa.concat_tables(parts)


def _rows_for(keys: np.ndarray, *, tag: str) -> pa.Table:
    full = person_rows(len(keys), seed=5, tag=tag)
    ids = pc.binary_join_element_wise(
        "43090219", pc.utf8_lpad(pc.cast(pa.array(keys, pa.int64()), pa.string()), 10, "0"), ""
    )
    return full.set_column(0, full.schema.field(0), ids)


def _with_deleted(t: pa.Table, flag: bool) -> pa.Table:
    return t.append_column("_deleted", pa.array([flag] * t.num_rows, pa.bool_()))


# -- child jobs: each returns (seconds, peak RSS MB) -------------------------------------------
def job_parquet(n: int, folder: str) -> tuple[float, float]:
    table = person_rows(n)
    start = time.perf_counter()
    pq.write_table(table, f"{folder}/plain.parquet")
    return time.perf_counter() - start, vmhwm_mb()


def job_first_load(n: int, folder: str, layout: str) -> tuple[float, float]:
    from lake import Lake

    table = person_rows(n)
    if layout != "default":
        table = table.sort_by("id_number")
    t = Lake(folder).curated(CONTRACT)
    if layout == "files64":
        t._target_file_size = max(1, int(table.nbytes / 64))
    start = time.perf_counter()
    t.commit(table, app_id="bench", run_seq=1, metadata={})
    return time.perf_counter() - start, vmhwm_mb()


def job_merge(n: int, folder: str, clustered: bool) -> tuple[float, float, dict]:
    from lake import Lake

    changes = change_batch(n, clustered=clustered)
    t = Lake(folder).curated(CONTRACT)
    start = time.perf_counter()
    info = t.commit(changes, app_id="bench", run_seq=2, metadata={})
    elapsed = time.perf_counter() - start
    entry = t.history()[0]["operationMetrics"]
    files = {
        k: entry.get(k)
        for k in (
            "num_target_files_scanned",
            "num_target_files_skipped_during_scan",
            "num_target_files_added",
            "num_target_files_removed",
        )
    }
    files.update(ins=info.rows_inserted, upd=info.rows_updated, dele=info.rows_deleted)
    return elapsed, vmhwm_mb(), files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, r = args.rows, args.repeat
    work = Path(tempfile.mkdtemp(prefix="bench_lake_"))
    try:
        base = [in_child(job_parquet, n, str(work)) for _ in range(r)]
        pq_s = statistics.median(b[0] for b in base)
        print(f"rows={n:,}  repeat={r}")
        print(f"parquet write_table          median {pq_s:6.2f} s  peak RSS {max(b[1] for b in base):6.0f} MB")
        for layout, clustered in (("default", False), ("sorted", False), ("files64", False), ("files64", True)):
            loads, merges = [], []
            for i in range(r):
                folder = work / f"{layout}-{i}"
                loads.append(in_child(job_first_load, n, str(folder), layout))
                merges.append(in_child(job_merge, n, str(folder), clustered))
                shutil.rmtree(folder)
            load_s = statistics.median(x[0] for x in loads)
            merge_s = statistics.median(x[0] for x in merges)
            label = f"{layout}{' clustered keys' if clustered else ' random keys'}"
            print(
                f"[{label:24}] first load median {load_s:6.2f} s (x{load_s / pq_s:4.1f} parquet) "
                f"peak {max(x[1] for x in loads):5.0f} MB | 1% run (cold process) median {merge_s:6.2f} s "
                f"= {100 * merge_s / load_s:5.1f}% of first load, peak {max(x[1] for x in merges):5.0f} MB"
            )
            print(f"    merge files/rows: {merges[-1][2]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
