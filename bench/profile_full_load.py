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
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._harness import loadavg, print_table, vmhwm_mb  # noqa: E402
from bench._stages import timed_stages  # noqa: E402
from bench.bench_pipeline import OUT, cached_registry, registry_hub  # noqa: E402

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
    _, env = registry_hub(registry, work)
    os.environ.update(env)
    import importlib

    for module in MODULES:
        importlib.import_module(module)
    from govhub import pipeline
    from govhub.db import migrate

    if args.serial:
        import govhub.pipeline.parallel as parallel

        parallel.workers = lambda: 1

    def profile_file(stage: str) -> Path:
        return OUT / f"profile_full_load_{stage}{args.label}.txt"

    migrate()
    load = loadavg()
    rows, run_id = [], ""
    total_wall, total_cpu = time.perf_counter(), time.process_time()
    try:
        for t in timed_stages(STAGES, profile=args.profile, cpu=args.cpu, profile_file=profile_file):
            run_id = t.run_id
            memory = [f"{vmhwm_mb():.0f}", f"{_vmrss_mb():.0f}", _arrow_mb()]
            rows.append([t.stage, f"{t.wall:.2f}", f"{t.cpu:.2f}", *memory])
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
