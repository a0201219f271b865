"""Lake designs side by side: what a 1 % change costs the curated table of n persons.

Run: .venv/bin/python -m bench.bench_lake_designs [--rows 1000000] [--days 2]
(the DuckLake case needs `pip install duckdb duckdb-extension-ducklake`; it is reported "not run" without.)

Every design loads the same n rows, then takes `--days` 1 % changes (90 % updates, 5 % inserts, 5 %
deletes, random keys: `bench_lake.change_batch`) and reads the current state back. Each design runs
in its own child process (its own peak RSS); the copy-on-write MERGE is the baseline of the same run.

- **cow** — copy-on-write, the lake before merge-on-read: each run's changes MERGEd into the base
  (`CuratedTable.commit` then `compact()`, the same delta-rs MERGE; every touched file rewritten).
- **mor-built** — the built merge-on-read `CuratedTable.commit` (change table, row index, counts,
  re-sends dropped); `bench_lake_mor.py` details its cold and warm runs, reads and compaction.
- **mor-delta** — merge-on-read inside Delta: the base table untouched by increments; each run appends
  its net changes (rows + `_deleted`) to a second, append-only Delta table (its CDF is the change feed);
  the current state = base rows whose key has no change + the last live change per key; a compaction
  (one MERGE of the accumulated changes into the base) runs when the change table passes a threshold.
- **ducklake** — DuckLake (catalogue in a DuckDB file here, PostgreSQL in production; data in Parquet):
  an increment is DELETE of the changed keys + INSERT of their new rows in one transaction (DuckLake
  writes delete files, not rewrites); `ducklake_table_changes` is the change feed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._harness import in_child, loadavg, print_table, vmhwm_mb
from bench.bench_lake import CONTRACT, change_batch, person_rows

KEY = "id_number"


def _day(n: int, day: int) -> pa.Table:
    """Day `day`'s 1 % change: other keys and other new rows each day."""
    changes = change_batch(n, clustered=False)
    if day == 0:
        return changes
    rng = np.random.default_rng(100 + day)
    ids = changes.column(KEY).to_pylist()
    shift = int(rng.integers(1, n // 2))
    new_ids = [
        f"43090219{(int(i[8:]) + shift) % n:010d}" if int(i[8:]) < n else f"43090219{int(i[8:]) + day * n:010d}"
        for i in ids
    ]
    return changes.set_column(0, changes.schema.field(0), pa.array(new_ids, pa.string()))


def _progress(what: str, seconds: float) -> None:
    print(f"  {what} in {seconds:.2f} s", file=sys.stderr, flush=True)


def _cpu() -> float:
    return time.process_time()


# -- copy-on-write (commit + compaction per run) and the built merge-on-read --------------------------
def job_cow(n: int, folder: str, days: int, compact_each_run: bool = True) -> dict[str, Any]:
    from lake import Lake

    table = Lake(folder).curated(CONTRACT)
    out: dict[str, Any] = {"design": "cow" if compact_each_run else "mor-built"}
    rows = person_rows(n)
    start, cpu = time.perf_counter(), _cpu()
    table.commit(rows, app_id="bench", run_seq=1, metadata={})
    out["full_s"], out["full_cpu_s"] = time.perf_counter() - start, _cpu() - cpu
    del rows
    out["incr_s"], out["incr_cpu_s"] = [], []
    for day in range(days):
        changes = _day(n, day)
        start, cpu = time.perf_counter(), _cpu()
        table.commit(changes, app_id="bench", run_seq=2 + day, metadata={})
        if compact_each_run:
            table.compact()
        out["incr_s"].append(time.perf_counter() - start)
        out["incr_cpu_s"].append(_cpu() - cpu)
    start = time.perf_counter()
    state = table.read()
    out["read_s"], out["rows"] = time.perf_counter() - start, state.num_rows
    start = time.perf_counter()
    feed = table.changes(after_version=table.version() - 1)
    out["feed_s"], out["feed_rows"] = time.perf_counter() - start, feed.num_rows
    start = time.perf_counter()
    table.compact()
    out["compact_s"] = time.perf_counter() - start
    out["peak_rss_mb"] = vmhwm_mb()
    return out


def job_mor_built(n: int, folder: str, days: int) -> dict[str, Any]:
    return job_cow(n, folder, days, compact_each_run=False)


# -- merge-on-read inside Delta: the prototype ---------------------------------------------------------------------
def _mor_state(base: str, changes: str) -> pa.Table:
    """Current state: base rows whose key has no change + the last live change of each key."""
    from deltalake import DeltaTable

    delta = DeltaTable(changes).to_pyarrow_table().sort_by("_run_seq")  # file order is not commit order
    rows = pa.array(np.arange(delta.num_rows, dtype=np.int64))
    last = delta.append_column("__row", rows).group_by([KEY], use_threads=False).aggregate([("__row", "max")])
    latest = delta.take(last.column("__row_max"))
    changed = latest.column(KEY).combine_chunks()
    live = latest.filter(pc.invert(latest.column("_deleted"))).drop_columns(["_deleted", "_run_seq"])
    parts = []
    for batch in DeltaTable(base).to_pyarrow_dataset().to_batches():
        parts.append(pa.Table.from_batches([batch]).filter(pc.invert(pc.is_in(batch.column(KEY), value_set=changed))))
    parts.append(live.cast(parts[0].schema))
    return pa.concat_tables(parts)


def job_mor_delta(n: int, folder: str, days: int, threshold: float = 0.10) -> dict[str, Any]:
    from deltalake import DeltaTable, WriterProperties, write_deltalake

    from lake import Lake

    base_uri, change_uri = f"{folder}/curated/person", f"{folder}/changes"
    base = Lake(folder).curated(CONTRACT)
    out: dict[str, Any] = {"design": "mor-delta"}
    rows = person_rows(n)
    start, cpu = time.perf_counter(), _cpu()
    base.commit(rows, app_id="bench", run_seq=1, metadata={})
    out["full_s"], out["full_cpu_s"] = time.perf_counter() - start, _cpu() - cpu
    del rows
    out["incr_s"], out["incr_cpu_s"], out["compact_s"] = [], [], 0.0
    cdf = {"delta.enableChangeDataFeed": "true"}
    for day in range(days):
        changes = _day(n, day)
        start, cpu = time.perf_counter(), _cpu()
        rows = changes.append_column("_run_seq", pa.array(np.full(changes.num_rows, 2 + day, dtype=np.int64)))
        write_deltalake(
            change_uri,
            rows,
            mode="append",
            configuration=cdf,
            writer_properties=WriterProperties(max_row_group_size=128 * 1024),
        )
        out["incr_s"].append(time.perf_counter() - start)
        out["incr_cpu_s"].append(_cpu() - cpu)
    start = time.perf_counter()
    state = _mor_state(base_uri, change_uri)
    out["read_s"], out["rows"] = time.perf_counter() - start, state.num_rows
    del state
    start = time.perf_counter()
    ct = DeltaTable(change_uri)
    feed = pa.table(ct.load_cdf(starting_version=ct.version(), ending_version=ct.version()))
    out["feed_s"], out["feed_rows"] = time.perf_counter() - start, feed.num_rows
    start = time.perf_counter()  # compaction: the accumulated changes MERGEd into the base once
    pending = DeltaTable(change_uri).to_pyarrow_table().drop_columns(["_run_seq"])
    if pending.num_rows >= threshold * n or True:  # measured every time here; scheduled in practice
        base.commit(pending, app_id="bench", run_seq=99, metadata={})
        write_deltalake(
            change_uri,
            pending.schema.empty_table().append_column("_run_seq", pa.array([], pa.int64())),
            mode="overwrite",
        )
    out["compact_s"] = time.perf_counter() - start
    out["peak_rss_mb"] = vmhwm_mb()
    return out


# -- DuckLake -------------------------------------------------------------------------------------
def _ducklake(folder: str):
    import duckdb
    import duckdb_extension_ducklake

    ext = next(Path(duckdb_extension_ducklake.__file__).parent.glob("extensions/*/ducklake.duckdb_extension"))
    con = duckdb.connect()
    con.execute("SET threads TO 1")  # two threads hung in a 1 M-row DELETE (DuckDB 1.5.5, a busy machine)
    con.execute(f"LOAD '{ext}'")  # from the PyPI package: no download
    Path(folder, "data").mkdir(parents=True, exist_ok=True)
    con.execute(f"ATTACH 'ducklake:{folder}/meta.ducklake' AS lk (DATA_PATH '{folder}/data')")
    return con


def job_ducklake(n: int, folder: str, days: int) -> dict[str, Any]:
    con = _ducklake(folder)
    out: dict[str, Any] = {"design": "ducklake"}
    import pyarrow.parquet as pq

    staged = f"{folder}/staged.parquet"  # DuckDB reads staged files (a Python Arrow scan hung at 1 M rows)
    pq.write_table(person_rows(n), staged)
    start, cpu = time.perf_counter(), _cpu()
    con.execute(f"CREATE TABLE lk.person AS SELECT * FROM read_parquet('{staged}')")
    out["full_s"], out["full_cpu_s"] = time.perf_counter() - start, _cpu() - cpu
    _progress("ducklake: loaded", out["full_s"])
    out["incr_s"], out["incr_cpu_s"] = [], []
    for day in range(days):
        pq.write_table(_day(n, day), staged)
        start, cpu = time.perf_counter(), _cpu()
        con.execute(f"CREATE OR REPLACE TEMP TABLE chg AS SELECT * FROM read_parquet('{staged}')")
        con.execute("BEGIN")
        con.execute(f"DELETE FROM lk.person WHERE {KEY} IN (SELECT {KEY} FROM chg)")
        con.execute("INSERT INTO lk.person SELECT * EXCLUDE (_deleted) FROM chg WHERE NOT _deleted")
        con.execute("COMMIT")
        out["incr_s"].append(time.perf_counter() - start)
        out["incr_cpu_s"].append(_cpu() - cpu)
        _progress(f"ducklake: day {day}", out["incr_s"][-1])
    start = time.perf_counter()
    reader = con.execute("SELECT * FROM lk.person").fetch_record_batch(64 * 1024)
    out["rows"] = sum(batch.num_rows for batch in reader)  # streamed: fetch_arrow_table hung at 1 M rows
    out["read_s"] = time.perf_counter() - start
    _progress("ducklake: read", out["read_s"])
    snap = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lk')").fetchone()[0]
    start = time.perf_counter()
    feed_sql = f"SELECT * FROM ducklake_table_changes('lk', 'main', 'person', {snap}, {snap})"
    out["feed_rows"] = sum(b.num_rows for b in con.execute(feed_sql).fetch_record_batch(64 * 1024))
    out["feed_s"] = time.perf_counter() - start
    _progress("ducklake: change feed", out["feed_s"])
    files = con.execute("SELECT count(*) FROM ducklake_list_files('lk', 'person')").fetchone()[0]
    start = time.perf_counter()
    try:
        con.execute("CALL ducklake_rewrite_data_files('lk', 'person')")
        con.execute("CALL ducklake_merge_adjacent_files('lk')")
        out["compact_s"] = time.perf_counter() - start
        _progress("ducklake: compaction", out["compact_s"])
    except Exception as e:  # an older extension has no rewrite function
        out["compact_s"], out["compact_error"] = None, str(e).splitlines()[0]
    out["files_before_compaction"] = files
    out["peak_rss_mb"] = vmhwm_mb()
    return out


JOBS = {"cow": job_cow, "mor-built": job_mor_built, "mor-delta": job_mor_delta, "ducklake": job_ducklake}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=2)
    # mor-delta is the prototype measured before the build (its compaction now appends, not MERGEs)
    parser.add_argument("--designs", default="cow,mor-built,ducklake")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_lake_designs_"))
    results, load_start = [], loadavg()
    try:
        for name in args.designs.split(","):
            folder = work / name
            try:
                results.append(in_child(JOBS[name], args.rows, str(folder), args.days))
                print(json.dumps(results[-1], default=str), flush=True)
            except ImportError as e:
                results.append({"design": name, "error": f"not run: {e}"})
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["design"], r["error"], "", "", "", "", "", "", ""])
            continue
        incr, incr_cpu = max(r["incr_s"]), max(r["incr_cpu_s"])
        rows.append(
            [
                r["design"],
                f"{r['full_s']:.2f}",
                " / ".join(f"{s:.2f}" for s in r["incr_s"]),
                f"{incr / r['full_s']:.1%}",
                f"{r['full_cpu_s']:.2f} / {incr_cpu:.2f} ({incr_cpu / r['full_cpu_s']:.1%})",
                f"{r['read_s']:.2f}",
                f"{r['feed_s']:.2f}",
                "" if r.get("compact_s") is None else f"{r['compact_s']:.2f}",
                f"{r['peak_rss_mb']:.0f}",
            ]
        )
    print_table(
        [
            "design",
            "full load s",
            "1 % runs s",
            "worst run / full",
            "CPU s full / worst run",
            "read state s",
            "change feed s",
            "compaction s",
            "peak RSS MB",
        ],
        rows,
        title=f"{args.rows:,} persons, {args.days} days of 1 % change; load {load_start} → {loadavg()}",
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
