"""Where a 1 % incremental run's time goes: begin, extract, validate, publish, register and advance.

Run: .venv/bin/python -m bench.profile_incremental [--rows 500000] [--profile [--cpu]] [--runs 1]

One fresh hub over a copy of the cached registry (`bench_pipeline.cached_registry`): the full load
runs in a child process, then the source takes `bench_pipeline`'s 1 % change, then a second child
(a fresh process, as `bench_peers` runs each case) imports the pipeline's modules first and makes
the incremental run stage by stage, each stage timed (wall and process CPU) and, with `--profile`,
run under cProfile; its 30 heaviest functions (cumulative and own time) go to
`bench/out/profile_incremental_<stage><label>.txt`. `--runs N` repeats change + incremental N times
on the same hub (one fresh process each) and prints the median.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._harness import loadavg, print_table  # noqa: E402
from bench._stages import timed_stages  # noqa: E402
from bench.bench_pipeline import OUT, cached_registry, registry_hub  # noqa: E402

STAGES = ("begin", "extract", "validate", "publish", "register", "advance")
# what bench_peers' govhub case imports before its clock starts (its preload adds the lazy ones)
MODULES = [
    *("pyarrow", "deltalake", "govhub.pipeline", "connectors", "quality", "lake", "adbc_driver_sqlite"),
    "openlineage.client",  # the default file transport emits events: bench_peers preloads it too
]


def run_stages(*, profile: bool, cpu: bool, label: str) -> dict[str, list[float]]:
    """The person pipeline's stages once, in this process; {stage: [wall, cpu]}."""
    from govhub.db import migrate

    def profile_file(stage: str) -> Path:
        return OUT / f"profile_incremental_{stage}{label}.txt"

    migrate()
    stages = timed_stages(STAGES, profile=profile, cpu=cpu, profile_file=profile_file)
    return {t.stage: [t.wall, t.cpu] for t in stages}


def _child(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.profile_incremental", *args],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--cpu", action="store_true", help="profile on process CPU time (a loaded machine)")
    parser.add_argument("--label", default="", help="suffix of the profile files")
    parser.add_argument("--case", choices=["full", "incremental"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # a child: GOVHUB_HOME and the source URL come from the parent
        for module in MODULES:
            importlib.import_module(module)
        result = run_stages(profile=args.profile and args.case == "incremental", cpu=args.cpu, label=args.label)
        print(json.dumps(result))
        return
    from bench.bench_pipeline import case_change

    registry = cached_registry(args.rows)
    work = Path(tempfile.mkdtemp(prefix="profile_incremental_", dir=OUT))
    db, env = registry_hub(registry, work)
    load = loadavg()
    try:
        full = json.loads(_child(["--case", "full"], env))
        runs = []
        for i in range(args.runs):
            change = case_change(db, 0.01, 11 + i)
            extra = ["--profile"] if args.profile else []
            extra += ["--cpu"] if args.cpu else []
            runs.append(json.loads(_child(["--case", "incremental", *extra, "--label", args.label], env)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    changed = change["updated"] + change["deleted"] + change["inserted"]
    rows = []
    for stage in STAGES:
        wall = statistics.median(r[stage][0] for r in runs)
        cpu = statistics.median(r[stage][1] for r in runs)
        rows.append([stage, f"{full[stage][0]:.3f}", f"{full[stage][1]:.3f}", f"{wall:.3f}", f"{cpu:.3f}"])

    def through_publish(r: dict[str, list[float]], i: int) -> float:
        return sum(r[s][i] for s in STAGES[:4])

    inc_wall = statistics.median(through_publish(r, 0) for r in runs)
    inc_cpu = statistics.median(through_publish(r, 1) for r in runs)
    rows.append(
        ["begin→publish", f"{through_publish(full, 0):.3f}", f"{through_publish(full, 1):.3f}", f"{inc_wall:.3f}",
         f"{inc_cpu:.3f}"]
    )  # fmt: skip
    title = (
        f"{args.rows:,} persons, full then {changed:,} changed rows ({args.runs} incremental run(s), median"
        f"{', profiled' if args.profile else ''}); load {load} → {loadavg()}"
    )
    print_table(["stage", "full wall s", "full CPU s", "incr. wall s", "incr. CPU s"], rows, title=title)
    print(
        f"incremental / full, begin→publish: wall {inc_wall / through_publish(full, 0):.1%}, "
        f"CPU {inc_cpu / through_publish(full, 1):.1%}"
    )


if __name__ == "__main__":
    main()
