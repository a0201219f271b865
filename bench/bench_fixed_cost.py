"""Fixed cost of a run: a few hundred changed rows through the person pipeline in a warm worker.

Run: .venv/bin/python -m bench.bench_fixed_cost [--size 200000] [--changed 400] [--rounds 3]

One process plays a long-lived worker: it imports what a run imports, makes the full run, then
`--rounds` times changes `--changed` rows at the source (`bench_pipeline.case_change`: updates, a
few inserts and soft deletions) and runs `run_ingest("person")` again. Reported per stage: the
median wall seconds from the run record (`IngestRun.stage_seconds`), and the run's CPU seconds.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._harness import loadavg, print_table, vmhwm_mb
from bench.bench_pipeline import STAGES, cached_registry, case_change

WARM = ("pandas", "adbc_driver_sqlite", "connectors", "quality", "lake", "deltalake", "great_expectations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--changed", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    registry = cached_registry(args.size)
    work = Path(tempfile.mkdtemp(prefix="bench_fixed_cost_"))
    db = work / "population.sqlite"
    shutil.copyfile(registry, db)
    os.environ.update({"GOVHUB_HOME": str(work / "hub"), "GOVHUB_POPULATION_URL": f"sqlite:///{db}"})
    for key in ("GOVHUB_DB_URL", "GOVHUB_LAKE_URL"):
        os.environ.pop(key, None)
    load_start = loadavg()
    try:
        from govhub.db import migrate, session_scope
        from govhub.models import IngestRun
        from govhub.pipeline import run_ingest

        migrate()
        for module in WARM:
            importlib.import_module(module)

        def one_run() -> dict:
            wall, cpu = time.perf_counter(), time.process_time()
            summary = run_ingest("person")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            with session_scope() as session:
                stages = dict(session.get(IngestRun, summary["run_id"]).stage_seconds or {})
            return {"wall": wall, "cpu": cpu, "rows": summary["extracted"], "stages": stages}

        full = one_run()
        runs = []
        for i in range(args.rounds):
            case_change(db, args.changed / args.size, seed=10 + i)
            runs.append(one_run())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        [
            "full",
            f"{full['rows']:,}",
            f"{full['wall']:.2f}",
            f"{full['cpu']:.2f}",
            *(f"{full['stages'].get(s, 0):.2f}" for s in STAGES),
        ]
    ]
    for i, r in enumerate(runs):
        rows.append(
            [
                f"small #{i + 1}",
                f"{r['rows']:,}",
                f"{r['wall']:.2f}",
                f"{r['cpu']:.2f}",
                *(f"{r['stages'].get(s, 0):.2f}" for s in STAGES),
            ]
        )
    med = {s: statistics.median(r["stages"].get(s, 0) for r in runs) for s in STAGES}
    rows.append(
        [
            "small, median",
            "",
            f"{statistics.median(r['wall'] for r in runs):.2f}",
            f"{statistics.median(r['cpu'] for r in runs):.2f}",
            *(f"{med[s]:.2f}" for s in STAGES),
        ]
    )
    title = (
        f"{args.size:,} persons, {args.changed} changed rows a run, warm worker; "
        f"load {load_start} → {loadavg()}; peak RSS {vmhwm_mb():.0f} MB"
    )
    print_table(["run", "rows", "wall s", "CPU s", *STAGES], rows, title=title)


if __name__ == "__main__":
    main()
