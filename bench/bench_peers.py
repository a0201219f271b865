"""govhub against the tools a city could use instead, on the same source table, in the same run.

One simulated population registry (1,000,000 persons, 12 columns, SQLite; built once and cached in
bench/out/ by `bench_pipeline.cached_registry`) is copied per repetition and read, each case in its
own child process, by:

  raw            ADBC `SELECT * FROM person` -> one Arrow table -> `pyarrow.parquet.write_table`
  raw-stream     the same read as a stream of record batches -> `ParquetWriter` (the low-RSS limit)
  dlt-<backend>  dlt's `sql_table` source (backend pyarrow | connectorx | sqlalchemy) with
                 `dlt.sources.incremental("updated_at")` into the `filesystem` destination as Parquet
  govhub         the person pipeline through the `govhub.pipeline` stage functions: begin, extract,
                 validate, publish (the Delta commit) timed as the pipeline; register and advance after
  govhub-ingest  `govhub.pipeline.run_ingest("person")` on its own hub: the public one-call total

then the source takes a 1 % change (`bench_pipeline.case_change`: 1 % updated, 0.05 % inserted,
0.05 % soft-deleted, `updated_at` bumped) and every incremental side runs again on its own state.

Every child imports its side's modules first and times only the work after them (`seconds`, the
same way for every side); the parent adds the process wall time and peak RSS (`wait4`). Row counts
are checked across sides. `--source postgresql` copies the table to the local PostgreSQL first.

    .venv/bin/python -m bench.bench_peers [--rows 1000000] [--repeat 3] [--backends pyarrow,connectorx,sqlalchemy]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

from bench._harness import CaseResult, emit, loadavg, median, print_table, run_case, vmhwm_mb  # noqa: E402

DLT_BACKENDS = ("pyarrow", "connectorx", "sqlalchemy")
TABLE = "person"
DISCOVERY_ROWS = 1_000  # the small run that records each side's imports
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "govhub_bench_peers"

# the targets from the product requirement, checked by `targets()`
TARGET_VS_RAW = 0.7  # the pipeline, begin through publish
TARGET_INGEST_VS_RAW = 0.5  # `run_ingest` whole
TARGET_INCREMENTAL = 0.05


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its waited-for children (dlt's normalisers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _imports(modules: Sequence[str]) -> float:
    """Import a side's modules before its clock starts; returns the seconds they took."""
    started = time.perf_counter()
    for module in modules:
        importlib.import_module(module)
    return time.perf_counter() - started


# -- child cases ---------------------------------------------------------------------------------
def case_raw(url: str, out: Path, *, stream: bool) -> dict[str, Any]:
    """The limit: ADBC read into Arrow, then Parquet (whole table, or batch by batch)."""
    reader_module = _raw_reader(url)
    imports = _imports(["pyarrow", "pyarrow.parquet", reader_module])
    import pyarrow.parquet as pq

    target = out / "raw.parquet"
    query = f"SELECT * FROM {TABLE}"
    started, cpu = time.perf_counter(), _cpu()
    if reader_module == "connectorx":  # PostgreSQL without its ADBC driver: connectorx is the Arrow-native reader
        import connectorx as cx

        conn_str = _connectorx_kwargs(url)["conn"]
        if stream:
            batches = cx.read_sql(conn_str, query, return_type="arrow_stream", batch_size=50_000)
            _write_stream(pq, target, batches)
        else:
            pq.write_table(cx.read_sql(conn_str, query, return_type="arrow"), target)
    else:
        adbc = importlib.import_module(reader_module)
        with adbc.connect(_adbc_uri(url)) as conn, conn.cursor() as cur:
            cur.execute(query)
            if stream:
                _write_stream(pq, target, cur.fetch_record_batch())
            else:
                pq.write_table(cur.fetch_arrow_table(), target)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    written = pq.ParquetFile(target).metadata.num_rows
    return {
        "seconds": seconds,
        "cpu": cpu,
        "imports": imports,
        "rows_read": written,
        "rows_written": written,
        "reader": reader_module,
    }


def _write_stream(pq: Any, target: Path, reader: Any) -> None:
    with pq.ParquetWriter(target, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


def case_dlt(url: str, backend: str, work: Path) -> dict[str, Any]:
    """One dlt run (full on a fresh pipeline, incremental on the same one) into Parquet files."""
    modules = ["pyarrow", "pyarrow.parquet", "dlt", "dlt.sources.sql_database", "dlt.destinations"]
    imports = _imports(modules + (["connectorx"] if backend == "connectorx" else []))
    import dlt
    import pyarrow.parquet as pq
    from dlt.sources.sql_database import sql_table

    bucket = work / "bucket"
    started, cpu = time.perf_counter(), _cpu()
    source = sql_table(
        credentials=url,
        table=TABLE,
        backend=backend,
        incremental=dlt.sources.incremental("updated_at"),
        backend_kwargs=_connectorx_kwargs(url) if backend == "connectorx" else None,
    )
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{backend}",
        pipelines_dir=str(work / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=bucket.as_uri()),
        dataset_name="registry",
    )
    info = pipeline.run(source, loader_file_format="parquet")
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    read = pipeline.last_trace.last_normalize_info.row_counts.get(TABLE, 0)
    written = sum(
        pq.ParquetFile(f).metadata.num_rows
        for load_id in info.loads_ids
        for f in (bucket / "registry" / TABLE).glob(f"{load_id}.*.parquet")
    )
    return {"seconds": seconds, "cpu": cpu, "imports": imports, "rows_read": read, "rows_written": written}


def _connectorx_kwargs(url: str) -> dict[str, Any]:
    """connectorx takes its own connection string (no SQLAlchemy driver suffix)."""
    if url.startswith("sqlite"):
        return {"conn": "sqlite://" + url.removeprefix("sqlite:///")}
    return {"conn": url.replace("postgresql+psycopg://", "postgresql://")}


GOVHUB_MODULES = ["pyarrow", "deltalake", "govhub.pipeline", "connectors", "quality", "lake"]


def case_govhub(resource: str) -> dict[str, Any]:
    """The pipeline's stage functions in `run_ingest`'s order; begin..publish is the pipeline's time."""
    from govhub.db import migrate

    imports = _imports(GOVHUB_MODULES)
    from govhub import pipeline

    migrate()
    marks: dict[str, float] = {}
    started, cpu = time.perf_counter(), _cpu()
    run_id = pipeline.begin(resource, orchestrator="bench")
    cpu_marks = {"begin": _cpu() - cpu}
    try:
        for name in ("extract", "validate", "publish"):
            getattr(pipeline, name)(run_id)
            marks[name] = time.perf_counter() - started
            cpu_marks[name] = _cpu() - cpu
        pipeline_cpu = _cpu() - cpu
        pipeline_rss = vmhwm_mb()
        pipeline.register(run_id)
        marks["register"] = time.perf_counter() - started
        summary = pipeline.advance(run_id)
    except BaseException as e:
        pipeline.fail(run_id, f"{type(e).__name__}: {e}")
        raise
    total = time.perf_counter() - started
    return {
        "seconds": marks["publish"],
        "cpu": pipeline_cpu,
        "total_cpu": _cpu() - cpu,
        "total": total,
        "imports": imports,
        "pipeline_vmhwm_mb": pipeline_rss,
        "stages": _stage_split(marks, total),
        "stages_cpu": {  # CPU seconds of each stage (begin apart from extract here)
            name: round(cpu_marks[name] - cpu_marks[prev], 3) if prev else round(cpu_marks[name], 3)
            for prev, name in zip(
                ("", "begin", "extract", "validate"), ("begin", "extract", "validate", "publish"), strict=True
            )
        },
        **_govhub_counts(summary),
    }


def case_govhub_ingest(resource: str) -> dict[str, Any]:
    """`run_ingest` as a caller uses it: one call, timed whole (register's GX import included)."""
    from govhub.db import migrate

    imports = _imports(GOVHUB_MODULES)
    from govhub.pipeline import run_ingest

    migrate()
    started, cpu = time.perf_counter(), _cpu()
    summary = run_ingest(resource, orchestrator="bench")
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    return {"seconds": seconds, "cpu": cpu, "total": seconds, "imports": imports, **_govhub_counts(summary)}


def _stage_split(marks: dict[str, float], total: float) -> dict[str, float]:
    order = ["extract", "validate", "publish", "register"]
    split, previous = {}, 0.0
    for name in order:
        split[name] = round(marks[name] - previous, 3)
        previous = marks[name]
    split["advance"] = round(total - previous, 3)
    return split


def _govhub_counts(summary: dict[str, Any]) -> dict[str, Any]:
    accepted, rejected = summary.get("accepted") or 0, summary.get("rejected") or 0
    return {
        "rows_read": summary.get("extracted") or 0,
        "rows_written": accepted + rejected,
        "accepted": accepted,
        "rejected": rejected,
        "reconciled": summary.get("reconciled"),
        "version": summary.get("version"),
    }


def case_change(db: Path, seed: int, pg_url: str | None) -> dict[str, Any]:
    """bench_pipeline's 1 % change on the SQLite copy; mirrored to PostgreSQL when that is the source."""
    from bench.bench_pipeline import case_change as change

    result = change(db, 0.01, seed)
    if pg_url:
        result["mirrored"] = _mirror_changes(db, pg_url, result)
    return result


# -- PostgreSQL source -----------------------------------------------------------------------------
def case_pg_load(db: Path, pg_url: str) -> dict[str, Any]:
    """Copy the SQLite registry into a fresh PostgreSQL database (same columns, key and cursor index)."""
    import sqlalchemy as sa

    from simulators.registry import create_table, insert_rows, reflect_table

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    started = time.perf_counter()
    src = sa.create_engine(f"sqlite:///{db}")
    dst = sa.create_engine(pg_url)
    table = create_table(dst, TABLE)
    rows = 0
    with src.connect() as conn:  # typed through the contract's table: datetimes and booleans, not text
        result = conn.execution_options(yield_per=50_000).execute(sa.select(reflect_table(src, TABLE)))
        for part in result.mappings().partitions(50_000):
            rows += insert_rows(dst, table, [dict(r) for r in part])
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _mirror_changes(db: Path, pg_url: str, change: dict[str, Any]) -> int:
    """Upsert the rows the change touched (the newest `updated_at`s) from SQLite into PostgreSQL."""
    import sqlalchemy as sa

    from simulators.registry import insert_rows, reflect_table

    n = change["updated"] + change["deleted"] + change["inserted"]
    src = sa.create_engine(f"sqlite:///{db}")
    table = reflect_table(src, TABLE)
    with src.connect() as conn:
        newest = sa.select(table).order_by(table.c.updated_at.desc()).limit(n)
        rows = [dict(r) for r in conn.execute(newest).mappings()]
    dst = sa.create_engine(pg_url)
    keys = [r["id_number"] for r in rows]
    with dst.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.id_number.in_(keys)))
    return insert_rows(dst, table, rows)


def _raw_reader(url: str) -> str:
    """ADBC's driver for the source; connectorx for PostgreSQL when its ADBC driver is not installed."""
    if url.startswith("sqlite"):
        return "adbc_driver_sqlite.dbapi"
    try:
        importlib.import_module("adbc_driver_postgresql")
    except ImportError:
        return "connectorx"
    return "adbc_driver_postgresql.dbapi"


def _adbc_uri(url: str) -> str:
    if url.startswith("sqlite"):
        return url.removeprefix("sqlite:///")
    return url.replace("postgresql+psycopg://", "postgresql://")


# -- parent ----------------------------------------------------------------------------------------
def _child(args: list[str], env: dict[str, str] | None = None) -> CaseResult:
    env = {"PYTHONPATH": str(ROOT), "RUNTIME__DLTHUB_TELEMETRY": "false", **(env or {})}
    return run_case([sys.executable, "-m", "bench.bench_peers", *args], env=env, cwd=ROOT, timeout=7200)


def _result(name: str, phase: str, case: CaseResult) -> dict[str, Any]:
    return {
        "case": name,
        "phase": phase,
        "wall": case.wall,
        "rss_mb": case.rss_mb,
        "loadavg": case.loadavg,
        **case.data,
    }


def one_round(
    rows: int,
    round_no: int,
    *,
    backends: Sequence[str],
    source: str,
    ingest: bool,
    record: Path | None = None,
    preload: Path | None = None,
) -> list[dict]:
    """Every case once on a fresh copy of the registry: full runs, the 1 % change, incremental runs.

    `record`: each case appends the modules it imported to `record/<case>.txt`; `preload`: each case
    imports the modules listed in `preload/<case>.txt` before its clock starts.
    """
    from bench.bench_pipeline import cached_registry

    work = OUT / f"peers_{rows}_{round_no}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = work / "population.sqlite"
    shutil.copyfile(cached_registry(rows), db)
    url = f"sqlite:///{db}"
    pg_url = None
    if source == "postgresql":
        pg_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DATABASE}"
        loaded = _child(["--case", "pg-load", "--db", str(db), "--url", pg_url])
        print(f"  copied {loaded['rows']:,} rows to PostgreSQL in {loaded['seconds']:.0f} s", flush=True)
        url = pg_url
    hubs = {"govhub": work / "hub", "govhub-ingest": work / "hub-ingest"}
    for key in ("GOVHUB_DB_URL", "GOVHUB_LAKE_URL"):  # the embedded default under GOVHUB_HOME
        os.environ.pop(key, None)
    govhub_cases = ["govhub", *(["govhub-ingest"] if ingest else [])]
    results: list[dict] = []

    def run(name: str, phase: str) -> None:
        if name in ("raw", "raw-stream"):
            args = ["--case", name, "--url", url, "--out", str(work)]
            env = None
        elif name.startswith("dlt-"):
            args = ["--case", "dlt", "--backend", name[4:], "--url", url, "--out", str(work / name)]
            env = None
        else:
            args = ["--case", name]
            env = {"GOVHUB_HOME": str(hubs[name]), "GOVHUB_POPULATION_URL": url}
            if record and name == "govhub-ingest":  # its clock covers `register`, whose full GX suite a
                env["GOVHUB_GX_FULL_SUITE_MIN_ROWS"] = "0"  # large load runs: GX is recorded and preloaded
            # the `govhub` case's clock and RSS mark end with `publish`: those stages never import GX, so
            # it is not preloaded there (its `register`, after the mark, imports it)
        if record:
            args += ["--record-modules", str(record / f"{name}.txt")]
        if preload and (preload / f"{name}.txt").exists():
            args += ["--preload", str(preload / f"{name}.txt")]
        try:
            case = _child(args, env)
        except RuntimeError as e:  # one side failing must not hide the others' figures
            error = str(e).strip().splitlines()[-1][:500]
            results.append({"case": name, "phase": phase, "error": error})
            print(f"  {phase:11} {name:15} FAILED: {error}", flush=True)
            return
        results.append(_result(name, phase, case))
        print(f"  {phase:11} {name:15} {case['seconds']:8.2f} s  rows {case['rows_read']:>9,}  "
              f"peak RSS {case.rss_mb:6.0f} MB  [load {case.loadavg}]", flush=True)  # fmt: skip

    for name in ("raw", "raw-stream", *(f"dlt-{b}" for b in backends), *govhub_cases):
        run(name, "full")
    change = _child(
        ["--case", "change", "--db", str(db), "--seed", str(round_no + 1), *(["--url", pg_url] if pg_url else [])]
    )
    results.append({"case": "change", "phase": "change", **change.data})
    for name in (*(f"dlt-{b}" for b in backends), *govhub_cases):
        run(name, "incremental")
    shutil.rmtree(work, ignore_errors=True)
    return results


def summarise(results: list[dict], *, rows: int, changed: int) -> dict[str, Any]:
    """Medians per (case, phase), the ratios the targets need, and the row-count checks."""
    cases: dict[tuple[str, str], list[dict]] = {}
    failed: dict[tuple[str, str], str] = {}
    for r in results:
        if "error" in r:
            failed[(r["case"], r["phase"])] = r["error"]
        elif r["phase"] != "change":
            cases.setdefault((r["case"], r["phase"]), []).append(r)
    table = []
    for (name, phase), runs in cases.items():
        seconds = median(r["seconds"] for r in runs)
        rows_read = runs[0]["rows_read"]
        entry = {
            "case": name,
            "phase": phase,
            "side": "raw" if name.startswith("raw") else "dlt" if name.startswith("dlt") else "govhub",
            "runs": len(runs),
            "seconds": seconds,
            "total": median(r.get("total", r["seconds"]) for r in runs),
            "wall": median(r["wall"] for r in runs),
            "imports": median(r.get("imports", 0.0) for r in runs),
            "cpu": median(r.get("cpu", float("nan")) for r in runs),
            "rows_read": rows_read,
            "rows_written": runs[0]["rows_written"],
            "rows_consistent": all(r["rows_read"] == rows_read for r in runs),
            "rows_per_s": rows_read / seconds if seconds else float("nan"),
            "rss_mb": max(r["rss_mb"] for r in runs),
            "vmhwm_mb": max(r.get("vmhwm_mb", float("nan")) for r in runs),
        }
        if runs[0].get("reader"):
            entry["reader"] = runs[0]["reader"]
        if "pipeline_vmhwm_mb" in runs[0]:
            entry["pipeline_vmhwm_mb"] = max(r["pipeline_vmhwm_mb"] for r in runs)
        if "stages" in runs[0]:
            entry["stages"] = {s: median(r["stages"][s] for r in runs) for s in runs[0]["stages"]}
        if "stages_cpu" in runs[0]:
            entry["stages_cpu"] = {s: median(r["stages_cpu"][s] for r in runs) for s in runs[0]["stages_cpu"]}
        table.append(entry)
    by = {(e["case"], e["phase"]): e for e in table}
    raw = by.get(("raw", "full"))
    full_dlt = [e for e in table if e["side"] == "dlt" and e["phase"] == "full"]
    fastest_dlt = max(full_dlt, key=lambda e: e["rows_per_s"]) if full_dlt else None
    for e in table:
        if raw and e["phase"] == "full":
            e["vs_raw"] = e["rows_per_s"] / raw["rows_per_s"]
            e["vs_raw_cpu"] = raw["cpu"] / e["cpu"] if e["cpu"] else float("nan")
        if fastest_dlt and e["phase"] == "full":
            e["vs_dlt"] = e["rows_per_s"] / fastest_dlt["rows_per_s"]
        if e["phase"] == "incremental" and (e["case"], "full") in by:
            e["incremental_ratio"] = e["seconds"] / by[(e["case"], "full")]["seconds"]
    checks = []
    for phase, expected in (("full", rows), ("incremental", changed)):
        for e in table:
            if e["phase"] == phase:
                ok = e["rows_read"] == expected and e["rows_consistent"]
                checks.append(
                    {
                        "case": e["case"],
                        "phase": phase,
                        "expected": expected,
                        "read": e["rows_read"],
                        "written": e["rows_written"],
                        "ok": ok,
                    }
                )
    return {
        "rows": rows,
        "changed": changed,
        "cases": table,
        "fastest_dlt": fastest_dlt["case"] if fastest_dlt else None,
        "row_checks": checks,
        "failed": [{"case": c, "phase": ph, "error": err} for (c, ph), err in failed.items()],
        "targets": targets(by, fastest_dlt),
    }


def targets(by: dict[tuple[str, str], dict], fastest_dlt: dict | None) -> list[dict[str, Any]]:
    """PASS/MISS for each target of the product requirement (MISS when a side was not measured)."""
    gh, inc, raw = by.get(("govhub", "full")), by.get(("govhub", "incremental")), by.get(("raw", "full"))
    ingest = by.get(("govhub-ingest", "full"))
    out = []

    def add(name: str, measured: str, ok: bool | None) -> None:
        out.append({"target": name, "measured": measured, "status": "PASS" if ok else "MISS"})

    if gh and raw:
        add(
            f"govhub full, extract→publish ≥ {TARGET_VS_RAW}× raw (rows/s)",
            f"{gh['vs_raw']:.2f}× (CPU seconds: {gh['vs_raw_cpu']:.2f}×)",
            gh["vs_raw"] >= TARGET_VS_RAW,
        )
    if ingest and raw:
        add(
            f"govhub-ingest full (run_ingest) ≥ {TARGET_INGEST_VS_RAW}× raw (rows/s)",
            f"{ingest['vs_raw']:.2f}× (CPU seconds: {ingest['vs_raw_cpu']:.2f}×)",
            ingest["vs_raw"] >= TARGET_INGEST_VS_RAW,
        )
    if gh and fastest_dlt:
        add(f"govhub full ≥ dlt's fastest backend ({fastest_dlt['case']})", f"{gh['vs_dlt']:.2f}×", gh["vs_dlt"] >= 1)
        rss = gh.get("pipeline_vmhwm_mb", gh["rss_mb"])
        add(
            f"govhub peak RSS < {fastest_dlt['case']}'s",
            f"{rss:,.0f} MB vs {fastest_dlt['rss_mb']:,.0f} MB",
            rss < fastest_dlt["rss_mb"],
        )
    if gh and inc:
        ratio = inc["incremental_ratio"]
        add(f"govhub 1 % incremental < {TARGET_INCREMENTAL:.0%} of full", f"{ratio:.1%}", ratio < TARGET_INCREMENTAL)
    if not gh or not inc:
        add("govhub full and incremental measured", "govhub did not complete: see the failures", False)
    return out


def print_summary(summary: dict[str, Any]) -> None:
    """The tables on stdout (the README gets the same from bench/report.py)."""
    nan = float("nan")
    rows = [
        [
            e["case"],
            e["phase"],
            e["rows_read"],
            e["seconds"],
            e["cpu"],
            e["rows_per_s"],
            e.get("vs_raw", nan),
            e.get("vs_raw_cpu", nan),
            e.get("vs_dlt", nan),
            e.get("incremental_ratio", nan),
            e["wall"],
            e["rss_mb"],
        ]
        for e in summary["cases"]
    ]
    print_table(
        [
            "case",
            "phase",
            "rows",
            "median s",
            "CPU s",
            "rows/s",
            "vs raw",
            "vs raw (CPU)",
            "vs dlt best",
            "inc/full",
            "wall s",
            "peak RSS MB",
        ],
        rows,
        title=f"{summary['rows']:,} rows, source {summary.get('source', 'sqlite')}; loadavg {loadavg()}",
    )
    bad = [c for c in summary["row_checks"] if not c["ok"]]
    wrong = "; ".join(f"{c['case']} {c['phase']} read {c['read']:,} (expected {c['expected']:,})" for c in bad)
    print("row counts: " + (wrong or "all sides read the expected rows"))
    for f in summary.get("failed", []):
        print(f"FAILED {f['case']} {f['phase']}: {f['error']}")
    for t in summary["targets"]:
        print(f"{t['status']:4}  {t['target']}: {t['measured']}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default=",".join(DLT_BACKENDS), help="dlt backends (empty: no dlt)")
    parser.add_argument("--source", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--no-ingest", action="store_true", help="skip the separate run_ingest case")
    parser.add_argument("--json-out", type=Path, help="write the summary here (bench/report.py reads it)")
    parser.add_argument("--cold", action="store_true", help="count lazy imports as work (no module preload)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--preload", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--record-modules", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        preloaded = _preload(args.preload) if args.preload else 0.0
        result = _run_child(args)
        result["imports"] = result.get("imports", 0.0) + preloaded
        if args.record_modules:
            with args.record_modules.open("a") as f:
                f.write("".join(f"{m}\n" for m in list(sys.modules)))
        return emit(result)
    backends = [b for b in args.backends.split(",") if b]
    if unknown := set(backends) - set(DLT_BACKENDS):
        parser.error(f"unknown dlt backend(s) {sorted(unknown)}; choose from {', '.join(DLT_BACKENDS)}")
    if args.source == "postgresql" and not _pg_reachable():
        sys.exit("PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres): start it or use --source sqlite")
    from bench.bench_pipeline import cached_registry

    cached_registry(args.rows)
    started = time.perf_counter()
    options = {"backends": backends, "source": args.source, "ingest": not args.no_ingest}
    preload = None
    if not args.cold:  # every side's imports, lazy ones included, are loaded before its clock starts
        preload = OUT / "peers_modules"
        shutil.rmtree(preload, ignore_errors=True)
        preload.mkdir(parents=True)
        print(f"recording each side's imports on {DISCOVERY_ROWS:,} rows", flush=True)
        one_round(DISCOVERY_ROWS, 99, **options, record=preload)  # type: ignore[arg-type]
    results: list[dict] = []
    for i in range(args.repeat):
        print(f"round {i + 1}/{args.repeat} ({args.rows:,} rows, source {args.source})", flush=True)
        results.extend(one_round(args.rows, i, **options, preload=preload))  # type: ignore[arg-type]
    change = next(r for r in results if r["phase"] == "change")
    summary = summarise(results, rows=args.rows, changed=change["updated"] + change["deleted"] + change["inserted"])
    summary.update(
        source=args.source,
        repeat=args.repeat,
        backends=backends,
        loadavg_end=loadavg(),
        imports="preloaded" if preload else "counted as work",
        seconds=time.perf_counter() - started,
        runs=results,
    )
    print_summary(summary)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(summary, indent=1, default=str))


def _preload(path: Path) -> float:
    """Import the modules a side's earlier run imported (in that order); returns the seconds taken."""
    started = time.perf_counter()
    for name in dict.fromkeys(path.read_text().split()):
        if name in sys.modules or name.startswith(("__main__", "__mp_main__", "bench")):
            continue
        with contextlib.suppress(Exception):  # one that cannot load on its own is loaded by the run, timed
            importlib.import_module(name)
    return time.perf_counter() - started


def _run_child(args: argparse.Namespace) -> dict[str, Any]:
    if args.case in ("raw", "raw-stream"):
        return case_raw(args.url, args.out, stream=args.case == "raw-stream")
    if args.case == "dlt":
        return case_dlt(args.url, args.backend, args.out)
    if args.case == "govhub":
        return case_govhub(TABLE)
    if args.case == "govhub-ingest":
        return case_govhub_ingest(TABLE)
    if args.case == "change":
        return case_change(args.db, args.seed, args.url)
    if args.case == "pg-load":
        return case_pg_load(args.db, args.url)
    raise SystemExit(f"unknown case {args.case}")


def _pg_reachable() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
