"""Fixed cost of a run: a few hundred changed rows through the person pipeline, cold and warm, per stage.

Run: .venv/bin/python -m bench.bench_fixed_cost [--size 40000] [--changed 400] [--rounds 4] [--profile]

The parent builds (or reuses) the registry and makes the full load in a child process. Then one
fresh child process plays a worker: it imports `govhub.pipeline` (the `import` row), changes
`--changed` rows at the source (`bench_pipeline.case_change`: updates, a few inserts and soft
deletions; not timed), runs `run_ingest("person")`, and repeats `--rounds` times. The first run of
the process is **cold** (every lazy import a stage triggers is counted in that stage); the later
ones are **warm** (a long-lived worker). Each stage function is wrapped to record its wall and CPU
seconds (`time.process_time`, the whole process: a background import thread counts in the stage it
overlaps); `other` is what `run_ingest` spends outside the stages (the re-check of dependents).
`--profile` writes a cProfile of the warm runs to `bench/out/profile_fixed_cost.txt`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._harness import emit, loadavg, print_table, run_case  # noqa: E402
from bench.bench_pipeline import OUT, cached_registry, case_change, registry_hub  # noqa: E402

STAGES = ("begin", "extract", "validate", "publish", "register", "advance")


def _instrument(timings: dict[str, list[float]]) -> None:
    """Wrap the stage functions `run_stages` calls so each records [wall, cpu] into `timings`."""
    import govhub.pipeline as pipeline

    for name in STAGES:
        inner = getattr(pipeline, name)

        def timed(*args: Any, _inner: Any = inner, _name: str = name, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return _inner(*args, **kwargs)
            finally:
                timings[_name] = [time.perf_counter() - wall, time.process_time() - cpu]

        setattr(pipeline, name, timed)


def case_full() -> dict[str, Any]:
    """The first load, in a process of its own."""
    from govhub.db import migrate
    from govhub.pipeline import run_ingest

    migrate()
    wall, cpu = time.perf_counter(), time.process_time()
    summary = run_ingest("person")
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "rows": summary["extracted"]}


def case_runs(db: Path, size: int, changed: int, rounds: int, profile: str | None) -> dict[str, Any]:
    """One worker process: import the pipeline, then `rounds` small runs (the first cold, the rest warm)."""
    wall, cpu = time.perf_counter(), time.process_time()
    import govhub.pipeline as pipeline

    imports = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    profiler = None
    runs = []
    for i in range(rounds):
        case_change(db, changed / size, seed=10 + i)
        if profile and i == 1:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        timings: dict[str, list[float]] = {}
        _instrument(timings)
        wall, cpu = time.perf_counter(), time.process_time()
        summary = pipeline.run_ingest("person")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        for name in STAGES:  # unwrap for the next round
            setattr(pipeline, name, getattr(pipeline.stages, name))
        other = [wall - sum(t[0] for t in timings.values()), cpu - sum(t[1] for t in timings.values())]
        runs.append({"rows": summary["extracted"], "wall": wall, "cpu": cpu, "stages": {**timings, "other": other}})
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
        Path(profile).write_text(text.getvalue())  # type: ignore[arg-type]
    return {"imports": imports, "runs": runs}


def _row(label: str, rows: str, runs: list[dict[str, Any]]) -> list[str]:
    """A table row: medians of wall/CPU over `runs`, per stage `wall/cpu`."""

    def med(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}"

    cells = [label, rows, med([r["wall"] for r in runs]), med([r["cpu"] for r in runs])]
    for name in (*STAGES, "other"):
        cells.append(f"{med([r['stages'][name][0] for r in runs])} / {med([r['stages'][name][1] for r in runs])}")
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=40_000)
    parser.add_argument("--changed", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--case", choices=["full", "runs"])
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.case == "full":
        emit(case_full())
        return
    if args.case == "runs":
        profile = str(OUT / "profile_fixed_cost.txt") if args.profile else None
        emit(case_runs(Path(args.db), args.size, args.changed, args.rounds, profile))
        return
    registry = cached_registry(args.size)
    work = Path(tempfile.mkdtemp(prefix="bench_fixed_cost_"))
    db, env = registry_hub(registry, work)
    me = [sys.executable, str(Path(__file__).resolve())]
    load_start = loadavg()
    try:
        full = run_case([*me, "--case", "full"], env=env, cwd=ROOT)
        common = ["--db", str(db), "--size", str(args.size), "--changed", str(args.changed)]
        worker = run_case(
            [*me, "--case", "runs", *common, "--rounds", str(args.rounds), *(["--profile"] if args.profile else [])],
            env=env,
            cwd=ROOT,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    runs = worker["runs"]
    imports = worker["imports"]
    headers = ["run", "rows", "wall s", "CPU s", *(f"{s} wall/CPU" for s in (*STAGES, "other"))]
    table = [
        ["import govhub.pipeline", "", f"{imports['wall']:.2f}", f"{imports['cpu']:.2f}", *[""] * (len(STAGES) + 1)],
        _row("small, cold (1st in process)", f"{runs[0]['rows']:,}", runs[:1]),
    ]
    if len(runs) > 1:
        table.append(_row(f"small, warm (median of {len(runs) - 1})", f"{runs[1]['rows']:,}", runs[1:]))
    title = (
        f"{args.size:,} persons, {args.changed} changed rows a run; full load {full['rows']:,} rows in "
        f"{full['wall']:.2f} s wall / {full['cpu']:.2f} CPU s (own process); load {load_start} → {loadavg()}; "
        f"worker peak RSS {worker.rss_mb:.0f} MB"
    )
    print_table(headers, table, title=title)
    print(json.dumps({"full": full.data, "worker": worker.data, "load": [load_start, loadavg()]}))


if __name__ == "__main__":
    main()
