"""The person ingest pipeline end to end vs a raw ADBC -> Parquet copy of the same table, same run.

For each size it builds (once, cached in bench/out/ by size and seed) the simulated population
registry, then N times, each case in its own subprocess with its own GOVHUB_HOME:

  raw          ADBC `SELECT * FROM person` -> `fetch_arrow_table()` -> `pyarrow.parquet.write_table`
  full         `govhub.pipeline.run_ingest("person")` on a fresh hub (extract, validate, publish,
               register, advance) over a copy of the cached registry
  change       1 % of rows updated at the source (a field + `updated_at` bumped), plus 0.05 % inserts
               and 0.05 % `is_deleted=1` deletions (not timed against the pipeline)
  incremental  `run_ingest("person")` again on the same hub: only the changes move

Prints medians, rows/s, govhub/raw rate ratio, incremental/full ratio, peak RSS of each case and the
per-stage seconds from the run record (`IngestRun.stage_seconds`), with the load average.

    .venv/bin/python bench/bench_pipeline.py [--sizes 250000,500000,1000000] [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

from bench._harness import CaseResult, emit, loadavg, median, print_table, run_case  # noqa: E402

SEED = 7
STAGES = ("extract", "validate", "publish", "register", "advance")


# -- child cases ---------------------------------------------------------------------------------
def case_build(size: int, path: Path) -> dict[str, Any]:
    """Build the cached registry (in a child so the parent stays small for ru_maxrss)."""
    from simulators import build_population

    tmp = path.with_name(path.name + ".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    build_population(f"sqlite:///{tmp}", size=size, seed=SEED)
    tmp.rename(path)
    return {"seconds": time.perf_counter() - started}


def case_raw(db: Path, out: Path) -> dict[str, Any]:
    """The baseline: the same table read by ADBC into Arrow and written as one Parquet file."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow.parquet as pq

    started = time.perf_counter()
    with adbc.connect(str(db)) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM person")
        table = cur.fetch_arrow_table()
    pq.write_table(table, out / "person.parquet")
    return {"seconds": time.perf_counter() - started, "rows": table.num_rows}


def case_ingest(profile: str | None, *, warm: bool) -> dict[str, Any]:
    """One `run_ingest("person")` under the GOVHUB_* environment set by the parent."""
    from govhub.db import migrate, session_scope
    from govhub.models import IngestRun
    from govhub.pipeline import run_ingest

    migrate()
    imports = 0.0
    if warm:  # a long-lived worker: the slow imports are already paid
        started = time.perf_counter()
        warm_modules = ("pandas", "adbc_driver_sqlite", "connectors", "quality", "lake", "deltalake")
        for module in (*warm_modules, "great_expectations"):
            importlib.import_module(module)
        imports = time.perf_counter() - started
    started = time.perf_counter()
    if profile:
        from pyinstrument import Profiler

        with Profiler(interval=0.005) as profiler:
            summary = run_ingest("person")
        Path(profile).write_text(profiler.output_text(unicode=False, show_all=False, color=False))
        Path(profile).with_suffix(".html").write_text(profiler.output_html())
    else:
        summary = run_ingest("person")
    seconds = time.perf_counter() - started
    with session_scope() as session:
        run = session.get(IngestRun, summary["run_id"])
        stages = dict(run.stage_seconds or {})
    return {
        "seconds": seconds,
        "imports": imports,
        "rows": summary["extracted"],
        "accepted": summary["accepted"],
        "rejected": summary["rejected"],
        "version": summary["version"],
        "stages": stages,
    }


def case_change(db: Path, fraction: float, seed: int) -> dict[str, Any]:
    """Change `fraction` of the rows at the source: updates, a few inserts and soft deletions."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        keys = [k for (k,) in con.execute("SELECT id_number FROM person WHERE is_deleted = 0 ORDER BY id_number")]
        (latest,) = con.execute("SELECT max(updated_at) FROM person").fetchone()
        rng = random.Random(seed)
        n = max(1, int(len(keys) * fraction))
        extra = max(1, n // 20)
        picked = rng.sample(keys, n + extra)
        updates, deletes = picked[:n], picked[n:]
        import datetime as dt

        base = dt.datetime.fromisoformat(latest) + dt.timedelta(seconds=1)

        def stamp(i: int) -> str:
            return (base + dt.timedelta(microseconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f")

        started = time.perf_counter()
        con.executemany(
            "UPDATE person SET household_address = household_address || '（变更）', updated_at = ? WHERE id_number = ?",
            [(stamp(i), k) for i, k in enumerate(updates)],
        )
        con.executemany(
            "UPDATE person SET is_deleted = 1, updated_at = ? WHERE id_number = ?",
            [(stamp(n + i), k) for i, k in enumerate(deletes)],
        )
        columns = [r[1] for r in con.execute("PRAGMA table_info(person)")]
        template = con.execute(f"SELECT {', '.join(columns)} FROM person WHERE id_number = ?", (updates[0],)).fetchone()
        rows = []
        for i in range(extra):  # new people: copies of a valid row under fresh, valid ID numbers
            row = dict(zip(columns, template, strict=True))
            # unique for up to 120,000 new people: year by i, month by i // 20, sequence by i // 240
            row["id_number"] = _new_id(f"430902{2000 + i % 20}{1 + (i // 20) % 12:02d}01", 500 + (i // 240) % 500)
            row["birth_date"] = f"{row['id_number'][6:10]}-{row['id_number'][10:12]}-01"
            row["gender"] = "1" if int(row["id_number"][16]) % 2 else "2"
            row["updated_at"] = stamp(n + extra + i)
            row["is_deleted"] = 0
            rows.append(tuple(row[c] for c in columns))
        con.executemany(
            f"INSERT OR REPLACE INTO person ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
        )
        con.commit()
    finally:
        con.close()
    return {"seconds": time.perf_counter() - started, "updated": n, "deleted": extra, "inserted": extra}


def _new_id(prefix14: str, seq: int) -> str:
    from quality.codes import id_check_char

    body = f"{prefix14}{seq:03d}"
    return body + id_check_char(body)


# -- parent ----------------------------------------------------------------------------------------
def _child(args: list[str], env: dict[str, str] | None = None) -> CaseResult:
    return run_case([sys.executable, str(Path(__file__).resolve()), *args], env=env, cwd=ROOT)


def cached_registry(size: int) -> Path:
    """The registry of `size` persons (seed 7), built once."""
    path = OUT / f"population_{size}_s{SEED}.sqlite"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        print(f"building the registry of {size:,} persons (cached in {path}) ...", flush=True)
        result = _child(["--case", "build", "--size", str(size), "--db", str(path)])
        print(f"  built in {result['seconds']:.0f} s", flush=True)
    return path


def registry_hub(registry: Path, work: Path) -> tuple[Path, dict[str, str]]:
    """Copy `registry` into `work` as the source of a hub at `work/hub`: the copy and the hub's variables.

    The store variables are dropped from this process's environment, so the hub (and every child given
    these variables) uses the embedded default under GOVHUB_HOME.
    """
    db = work / "population.sqlite"
    shutil.copyfile(registry, db)
    for key in ("GOVHUB_DB_URL", "GOVHUB_LAKE_URL"):
        os.environ.pop(key, None)
    return db, {"GOVHUB_HOME": str(work / "hub"), "GOVHUB_POPULATION_URL": f"sqlite:///{db}"}


def one_round(size: int, round_no: int, *, profile: bool, warm: bool) -> dict[str, CaseResult]:
    """raw, full, change, incremental for one size, each in its own subprocess."""
    work = OUT / f"run_{size}_{round_no}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db, env = registry_hub(cached_registry(size), work)
    out: dict[str, CaseResult] = {}
    prof = (lambda name: ["--profile-to", str(OUT / f"profile_{name}_{size}.txt")]) if profile else (lambda name: [])
    out["raw"] = _child(["--case", "raw", "--db", str(db), "--out", str(work)])
    mode = ["--warm"] if warm else []
    out["full"] = _child(["--case", "ingest", *mode, *prof("full")], env)
    out["change"] = _child(["--case", "change", "--db", str(db), "--seed", str(round_no)])
    out["incremental"] = _child(["--case", "ingest", *mode, *prof("incremental")], env)
    shutil.rmtree(work, ignore_errors=True)
    return out


def report(size: int, rounds: list[dict[str, CaseResult]], *, mode: str) -> dict[str, float]:
    """Print the medians of one size and return the headline figures."""

    def med(case: str, key: str = "seconds") -> float:
        return median(r[case][key] for r in rounds)

    rows_raw, rows_full = rounds[0]["raw"]["rows"], rounds[0]["full"]["rows"]
    raw, full, inc = med("raw"), med("full"), med("incremental")
    full_core = median(sum(r["full"]["stages"].get(s, 0) for s in ("extract", "validate", "publish")) for r in rounds)
    table = []
    for case in ("raw", "full", "incremental"):
        secs = med(case)
        rows = rounds[0][case]["rows"]
        table.append(
            [
                case,
                rows,
                secs,
                median(r[case].wall for r in rounds),
                rows / secs if secs else float("nan"),
                max(r[case].rss_mb for r in rounds),
                max(r[case]["vmhwm_mb"] for r in rounds),
            ]
        )
    print_table(
        ["case", "rows", "median s", "wall s", "rows/s", "peak RSS MB (wait4)", "VmHWM MB"],
        table,
        title=f"size {size:,}: {len(rounds)} run(s), {mode}; loadavg at end {loadavg()}",
    )
    stage_rows = []
    for case in ("full", "incremental"):
        stage_rows.append([case, *(median(r[case]["stages"].get(s, 0.0) for r in rounds) for s in STAGES)])
    print_table(["run", *STAGES], stage_rows, title="per-stage median seconds (IngestRun.stage_seconds)")
    figures = {
        "rate_ratio": (rows_full / full) / (rows_raw / raw),
        "rate_ratio_core": (rows_full / full_core) / (rows_raw / raw),
        "incremental_ratio": inc / full,
        "peak_rss_mb": max(r[c].rss_mb for r in rounds for c in ("full", "incremental")),
    }
    print(
        f"govhub/raw rate ratio = {figures['rate_ratio']:.2f} (target >= 0.4); "
        f"extract+validate+publish only = {figures['rate_ratio_core']:.2f}\n"
        f"incremental/full = {figures['incremental_ratio']:.3f} (target < 0.05); "
        f"peak RSS = {figures['peak_rss_mb']:.0f} MB (target < 1500)\n"
        f"loadavg per case: " + ", ".join(f"{c} [{rounds[-1][c].loadavg}]" for c in ("raw", "full", "incremental"))
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250000,500000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100k rows only")
    parser.add_argument("--profile", action="store_true", help="pyinstrument the ingest runs of the last round")
    parser.add_argument("--warm", action="store_true", help="import GX, ADBC, quality before timing (a warm worker)")
    parser.add_argument("--case", choices=["build", "raw", "ingest", "change"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--fraction", type=float, default=0.01, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case == "build":
        return emit(case_build(args.size, args.db))
    if args.case == "raw":
        return emit(case_raw(args.db, args.out))
    if args.case == "ingest":
        return emit(case_ingest(args.profile_to, warm=args.warm))
    if args.case == "change":
        return emit(case_change(args.db, args.fraction, args.seed))
    sizes = [100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    summary = []
    for size in sizes:
        cached_registry(size)
        rounds = [
            one_round(size, i, profile=args.profile and i == args.runs - 1, warm=args.warm) for i in range(args.runs)
        ]
        figures = report(size, rounds, mode="warm imports" if args.warm else "cold process (CLI)")
        summary.append(
            [
                size,
                figures["rate_ratio"],
                figures["rate_ratio_core"],
                figures["incremental_ratio"],
                figures["peak_rss_mb"],
            ]
        )
    print_table(
        ["size", "govhub/raw rate", "(e+v+p only)", "incremental/full", "peak RSS MB"],
        summary,
        title=f"summary; loadavg {loadavg()}",
    )


if __name__ == "__main__":
    main()
