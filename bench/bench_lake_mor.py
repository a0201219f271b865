"""The built merge-on-read lake: what a 1 % run costs in a cold and a warm worker, a read, a compaction.

Run: .venv/bin/python -m bench.bench_lake_mor [--rows 1000000] [--days 3]

Every step runs in a fresh spawned child (a worker that has imported the hub but read nothing yet),
all against the same table, in this order: a first load WITHOUT the row index (the baseline the
index's cost is measured against; its table is then deleted), the first load (`CuratedTable.commit`:
a plain Delta append that also writes the base's row index), `--days` 1 % runs each in its own cold
child (they load the index files beside the table), one cold run with the index files deleted (the
scan every cold run paid before the index was kept), then one child taking `--days` runs in a row
(the first loads the files, the others find the index in the process: warm), a re-send, reads, the
change feed, a compaction (which writes the new base's index) and a cold run after it. A 1 % run is
`bench_lake_designs._day`: 9,000 updates, 500 inserts, 500 deletes of random keys per 1 M. CPU seconds
are the process's (all threads); ratios are over the first load's, in the same attempt.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._harness import in_child, loadavg, print_table, vmhwm_mb
from bench.bench_lake import CONTRACT, person_rows


def _timed(fn: Any) -> tuple[Any, float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - start, time.process_time() - cpu


def job_first_load(n: int, folder: str, with_index: bool = True) -> dict[str, Any]:
    from lake import Lake
    from lake._index import IndexTap
    from lake.curated import CuratedTable

    table = Lake(folder).curated(CONTRACT)
    rows = person_rows(n)
    spent: dict[str, float] = {}
    original = CuratedTable._save_first_index

    def timed_save(self: CuratedTable, dt: Any, tap: IndexTap) -> None:
        started = time.perf_counter()
        original(self, dt, tap)
        spent.update(index_prints_s=tap.seconds, index_write_s=time.perf_counter() - started)

    if with_index:
        CuratedTable._save_first_index = timed_save  # type: ignore[method-assign]
    else:  # the load as it was before the index was kept: no prints taken, no file written
        IndexTap.wrap = lambda self, batches: batches  # type: ignore[method-assign, assignment, return-value]
        CuratedTable._save_first_index = lambda self, dt, tap: None  # type: ignore[method-assign, assignment]
    _, wall, cpu = _timed(lambda: table.commit(rows, app_id="bench", run_seq=1, metadata={}))
    return {"load_s": wall, "load_cpu_s": cpu, "load_rss_mb": vmhwm_mb(), **spent}


def _run(table: Any, n: int, day: int, run_seq: int) -> dict[str, Any]:
    from bench.bench_lake_designs import _day

    changes = _day(n, day)
    info, wall, cpu = _timed(lambda: table.commit(changes, app_id="bench", run_seq=run_seq, metadata={}))
    counts = (info.rows_inserted, info.rows_updated, info.rows_deleted) if info else (0, 0, 0)
    return {"wall": wall, "cpu": cpu, "counts": counts}


def job_cold_run(n: int, folder: str, day: int, run_seq: int, drop_index: bool = False) -> dict[str, Any]:
    """One 1 % run in a fresh process (`drop_index`: with the index files deleted first: a scan)."""
    from lake import Lake
    from lake._index_file import INDEX_DIR

    table = Lake(folder).curated(CONTRACT)
    if drop_index:
        shutil.rmtree(Path(table.uri) / INDEX_DIR, ignore_errors=True)
    return {**_run(table, n, day, run_seq), "rss_mb": vmhwm_mb()}


def job_runs(n: int, folder: str, first_day: int, days: int) -> dict[str, Any]:
    from lake import Lake

    table = Lake(folder).curated(CONTRACT)
    out: dict[str, Any] = {"runs": [_run(table, n, first_day + d, 2 + first_day + d) for d in range(days)]}
    from bench.bench_lake_designs import _day

    resend = _day(n, first_day + days - 1)
    info, wall, cpu = _timed(lambda: table.commit(resend, app_id="bench", run_seq=2 + first_day + days, metadata={}))
    out["resend"] = {"wall": wall, "cpu": cpu, "committed": info is not None}
    state, out["read_s"], out["read_cpu_s"] = _timed(table.read)
    out["rows"] = state.num_rows
    del state
    rows, out["scan_s"], out["scan_cpu_s"] = _timed(lambda: sum(b.num_rows for b in table.scan()))
    assert rows == out["rows"]
    version = table.version()
    feed, out["feed_s"], out["feed_cpu_s"] = _timed(lambda: table.changes(after_version=version - 1))
    out["feed_rows"] = feed.num_rows
    out["pending_rows"] = table.pending_rows()[0]
    info, out["compact_s"], out["compact_cpu_s"] = _timed(table.compact)
    out["compacted"] = info.rows if info else 0
    _, out["read_after_s"], out["read_after_cpu_s"] = _timed(table.read)
    out["rss_mb"] = vmhwm_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--json-out")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_lake_mor_"))
    load_start = loadavg()
    days = args.days
    try:
        plain = in_child(job_first_load, args.rows, str(work / "plain"), False)
        shutil.rmtree(work / "plain", ignore_errors=True)
        folder = str(work / "lake")
        load = in_child(job_first_load, args.rows, folder, True)
        cold = [in_child(job_cold_run, args.rows, folder, d, 2 + d) for d in range(days)]
        scanned = in_child(job_cold_run, args.rows, folder, days, 2 + days, True)
        runs = in_child(job_runs, args.rows, folder, days + 1, days)
        after = in_child(job_cold_run, args.rows, folder, 2 * days + 1, 3 + 2 * days + 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "rows": args.rows,
        "plain_load": plain,
        **load,
        "cold_runs": cold,
        "cold_scan_run": scanned,
        **runs,
        "cold_after_compaction": after,
        "load_avg": f"{load_start} → {loadavg()}",
    }
    print(json.dumps(result, default=str), flush=True)
    base, wall_base = load["load_cpu_s"], load["load_s"]

    def row(label: str, step: dict[str, Any], rss: str = "") -> list[str]:
        return [
            label,
            f"{step['wall']:.2f}",
            f"{step['cpu']:.2f}",
            f"{step['wall'] / wall_base:.1%}",
            f"{step['cpu'] / base:.1%}",
            rss,
        ]

    table = [
        [
            "first load without the row index",
            f"{plain['load_s']:.2f}",
            f"{plain['load_cpu_s']:.2f}",
            f"{plain['load_s'] / wall_base:.1%}",
            f"{plain['load_cpu_s'] / base:.1%}",
            f"{plain['load_rss_mb']:.0f}",
        ],
        [
            f"first load (row index: prints {load.get('index_prints_s', 0):.2f} s, "
            f"sort and write {load.get('index_write_s', 0):.2f} s)",
            f"{wall_base:.2f}",
            f"{base:.2f}",
            "100 %",
            "100 %",
            f"{load['load_rss_mb']:.0f}",
        ],
    ]
    for i, run in enumerate(cold):
        table.append(
            row(f"1 % run {i + 1}, cold process (index files), i/u/d {run['counts']}", run, f"{run['rss_mb']:.0f}")
        )
    table.append(row("1 % run, cold process, index files deleted (a scan)", scanned, f"{scanned['rss_mb']:.0f}"))
    for i, run in enumerate(runs["runs"]):
        label = f"1 % run {i + 1} in one process ({'cold' if i == 0 else 'warm'}), i/u/d {run['counts']}"
        table.append(row(label, run))
    resend = runs["resend"]
    table.append(row(f"re-send of the last run (committed: {resend['committed']})", resend))
    for name, key in (
        ("read current state", "read"),
        ("scan, batch by batch", "scan"),
        ("change feed, last run", "feed"),
        (f"compaction of {runs['pending_rows']:,} pending rows", "compact"),
        ("read after compaction", "read_after"),
    ):
        table.append(row(name, {"wall": runs[key + "_s"], "cpu": runs[key + "_cpu_s"]}))
    table[-1][5] = f"{runs['rss_mb']:.0f} (runs child)"
    table.append(row("1 % run, cold process after the compaction", after, f"{after['rss_mb']:.0f}"))
    print_table(
        ["step", "wall s", "CPU s", "wall / first load", "CPU / first load", "peak RSS MB"],
        table,
        title=f"{args.rows:,} persons, {args.days} 1 % runs; load {result['load_avg']}",
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
