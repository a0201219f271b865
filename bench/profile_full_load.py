"""Where a full load's time goes: begin, extract, validate and publish of the person pipeline, one by one.

Run: .venv/bin/python -m bench.profile_full_load [--rows 500000] [--profile [--cpu]] [--serial]

One fresh hub over a copy of the cached registry (`bench_pipeline.cached_registry`), the pipeline's
modules imported first (a warm worker). Each stage is timed (wall and process CPU, all threads) and,
with `--profile`, run under cProfile; its 30 heaviest functions (cumulative and own time) are written
to `bench/out/profile_full_load_<stage>.txt`. cProfile sees the calling thread only: `--serial`
checks batches on that thread (no second batch thread), so the per-batch checks show; `--cpu` times
the profile in process CPU seconds instead of wall seconds (a shared, loaded machine). Each stage row
also shows the resident memory after it (VmRSS) and what Arrow's pool holds then (and at its peak).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._harness import loadavg, print_table, vmhwm_mb  # noqa: E402
from bench.bench_pipeline import OUT, cached_registry  # noqa: E402

STAGES = ("begin", "extract", "validate", "publish")
MODULES = ["pyarrow", "deltalake", "govhub.pipeline", "connectors", "quality", "lake", "adbc_driver_sqlite.dbapi"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--serial", action="store_true", help="check batches on the calling thread only")
    parser.add_argument("--label", default="", help="suffix of the profile files")
    parser.add_argument("--cpu", action="store_true", help="profile on process CPU time (a loaded machine)")
    args = parser.parse_args()
    registry = cached_registry(args.rows)
    work = Path(tempfile.mkdtemp(prefix="profile_full_load_"))
    db = work / "population.sqlite"
    shutil.copyfile(registry, db)
    os.environ.update({"GOVHUB_HOME": str(work / "hub"), "GOVHUB_POPULATION_URL": f"sqlite:///{db}"})
    for key in ("GOVHUB_DB_URL", "GOVHUB_LAKE_URL"):
        os.environ.pop(key, None)
    import importlib

    for module in MODULES:
        importlib.import_module(module)
    from govhub import pipeline
    from govhub.db import migrate

    if args.serial:
        import govhub.pipeline.parallel as parallel

        parallel.workers = lambda: 1
    migrate()
    load = loadavg()
    rows, run_id = [], ""
    total_wall, total_cpu = time.perf_counter(), time.process_time()
    try:
        for stage in STAGES:
            profiler = None
            if args.profile:
                profiler = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
            wall, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            if stage == "begin":
                run_id = pipeline.begin("person", orchestrator="bench")
            else:
                getattr(pipeline, stage)(run_id)
            if profiler:
                profiler.disable()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows.append([stage, f"{wall:.2f}", f"{cpu:.2f}", f"{vmhwm_mb():.0f}", f"{_vmrss_mb():.0f}", _arrow_mb()])
            if profiler:
                text = io.StringIO()
                stats = pstats.Stats(profiler, stream=text)
                stats.sort_stats("cumulative").print_stats(30)
                stats.sort_stats("tottime").print_stats(30)
                (OUT / f"profile_full_load_{stage}{args.label}.txt").write_text(text.getvalue())
        total_wall, total_cpu = time.perf_counter() - total_wall, time.process_time() - total_cpu
        rows.append(["begin→publish", f"{total_wall:.2f}", f"{total_cpu:.2f}", f"{vmhwm_mb():.0f}", "", ""])
        pipeline.register(run_id)
        pipeline.advance(run_id)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mode = ("profiled, " if args.profile else "") + ("serial" if args.serial else "two batch threads")
    title = f"{args.rows:,} persons, full load ({mode}); load {load} → {loadavg()}"
    print_table(["stage", "wall s", "CPU s", "VmHWM MB", "VmRSS MB", "Arrow MB (pool peak)"], rows, title=title)


def _vmrss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _arrow_mb() -> str:
    """Bytes Arrow's default pool holds now and at its peak, in MB."""
    import pyarrow as pa

    pool = pa.default_memory_pool()
    return f"{pool.bytes_allocated() / 2**20:.0f} ({pool.max_memory() / 2**20:.0f})"


if __name__ == "__main__":
    main()
