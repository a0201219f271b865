"""The built merge-on-read lake: what a 1 % run, a current-state read and a compaction cost.

Run: .venv/bin/python -m bench.bench_lake_mor [--rows 1000000] [--days 3]

One child process loads n persons (`CuratedTable.commit`: the first load, a plain Delta append).
A second, fresh child (a worker that has imported the hub but read nothing yet) takes `--days` 1 %
runs (`bench_lake_designs._day`: 9,000 updates, 500 inserts, 500 deletes of random keys per 1 M):
the first one builds the base's row index (cold), the others find it in the process (warm). The
same child then reads the current state (`read`, and `scan` batch by batch), the change feed of the
last run, compacts (one MERGE of the pending changes into the base) and reads again. CPU seconds are
the process's (all threads); the ratio is each run's CPU over the first load's, in the same attempt.
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


def job_first_load(n: int, folder: str) -> dict[str, Any]:
    from lake import Lake

    table = Lake(folder).curated(CONTRACT)
    rows = person_rows(n)
    _, wall, cpu = _timed(lambda: table.commit(rows, app_id="bench", run_seq=1, metadata={}))
    return {"load_s": wall, "load_cpu_s": cpu, "load_rss_mb": vmhwm_mb()}


def job_runs(n: int, folder: str, days: int) -> dict[str, Any]:
    from bench.bench_lake_designs import _day
    from lake import Lake

    table = Lake(folder).curated(CONTRACT)
    out: dict[str, Any] = {"runs": []}
    for day in range(days):
        changes = _day(n, day)
        info, wall, cpu = _timed(
            lambda changes=changes, day=day: table.commit(changes, app_id="bench", run_seq=2 + day, metadata={})
        )
        counts = (info.rows_inserted, info.rows_updated, info.rows_deleted) if info else (0, 0, 0)
        out["runs"].append({"wall": wall, "cpu": cpu, "counts": counts})
    resend = _day(n, days - 1)
    info, wall, cpu = _timed(lambda: table.commit(resend, app_id="bench", run_seq=2 + days, metadata={}))
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
    try:
        load = in_child(job_first_load, args.rows, str(work))
        runs = in_child(job_runs, args.rows, str(work), args.days)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"rows": args.rows, **load, **runs, "load_avg": f"{load_start} → {loadavg()}"}
    print(json.dumps(result, default=str), flush=True)
    base = load["load_cpu_s"]
    table = [["first load", f"{load['load_s']:.2f}", f"{base:.2f}", "100 %", f"{load['load_rss_mb']:.0f}"]]
    for i, run in enumerate(runs["runs"]):
        label = f"1 % run {i + 1} ({'cold: builds the base index' if i == 0 else 'warm'}), i/u/d {run['counts']}"
        table.append([label, f"{run['wall']:.2f}", f"{run['cpu']:.2f}", f"{run['cpu'] / base:.1%}", ""])
    resend = runs["resend"]
    table.append(
        [
            f"re-send of the last run (committed: {resend['committed']})",
            f"{resend['wall']:.2f}",
            f"{resend['cpu']:.2f}",
            f"{resend['cpu'] / base:.1%}",
            "",
        ]
    )
    for name, key in (
        ("read current state", "read"),
        ("scan, batch by batch", "scan"),
        ("change feed, last run", "feed"),
        (f"compaction of {runs['pending_rows']:,} pending rows", "compact"),
        ("read after compaction", "read_after"),
    ):
        table.append(
            [name, f"{runs[key + '_s']:.2f}", f"{runs[key + '_cpu_s']:.2f}", f"{runs[key + '_cpu_s'] / base:.0%}", ""]
        )
    table[-1][4] = f"{runs['rss_mb']:.0f} (runs child)"
    print_table(
        ["step", "wall s", "CPU s", "CPU / first load", "peak RSS MB"],
        table,
        title=f"{args.rows:,} persons, {args.days} 1 % runs; load {result['load_avg']}",
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
