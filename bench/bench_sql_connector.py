"""SQL connector vs a raw ADBC read of the same SQLite table (the baseline), same run.

Builds a person table (1,000,000 rows by default; the simulators' generator when present, else a
quick one from the contract), then runs each case 3 times in its own subprocess, alternating,
and prints median seconds, rows/s, the ratio connector/ADBC and each case's peak RSS (ru_maxrss).
Targets: ratio >= 0.5, connector peak RSS < 1 GB.

    .venv/bin/python bench/bench_sql_connector.py [--rows N] [--runs 3] [--dbapi]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import vmhwm_mb  # noqa: E402  (after the repo root is on the path)


def _columns(rows: int) -> dict[str, list]:
    try:
        from simulators.generate import generate_persons

        table = generate_persons(rows, seed=7, bad_share=0.0, epoch=dt.datetime(2025, 1, 1))
        return table.columns
    except ImportError:
        from schemas import load_contract

        rnd = random.Random(7)
        base = dt.datetime(2024, 1, 1)
        contract = load_contract("person")
        cols: dict[str, list] = {}
        for f in contract.fields:
            if f.name == "updated_at":
                cols[f.name] = [
                    base + dt.timedelta(seconds=i // 3, microseconds=rnd.randrange(10**6)) for i in range(rows)
                ]
            elif f.type == "date":
                cols[f.name] = [dt.date(1950, 1, 1) + dt.timedelta(days=rnd.randrange(20000)) for _ in range(rows)]
            elif f.name == "id_number":
                cols[f.name] = [f"43090219{i:010d}" for i in range(rows)]
            else:
                cols[f.name] = [
                    None if f.required is False and i % 3 == 0 else f"{f.label}{i % 1000}" for i in range(rows)
                ]
        cols["is_deleted"] = [i % 97 == 0 for i in range(rows)]
        return cols


def build(path: Path, rows: int) -> None:
    """Create the person table with declared types from the contract and bulk-load it through ADBC."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    from schemas import load_contract

    contract = load_contract("person")
    started = time.perf_counter()
    cols = _columns(rows)
    declared = {"string": "VARCHAR(200)", "date": "DATE", "timestamp": "DATETIME", "integer": "INTEGER"}
    ddl = ", ".join(f"{f.name} {declared.get(f.type, 'TEXT')}" for f in contract.fields)
    arrays = {}
    for name, values in cols.items():
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, dt.datetime):
            values = [v.strftime("%Y-%m-%d %H:%M:%S.%f") for v in values]
        elif isinstance(sample, dt.date):
            values = [v.isoformat() for v in values]
        arrays[name] = pa.array(values)
    table = pa.table(arrays)
    with adbc.connect(str(path)) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE person ({ddl}, is_deleted BOOLEAN NOT NULL, PRIMARY KEY (id_number))")
        cur.adbc_ingest("person", table, mode="append")
        cur.execute("CREATE INDEX ix_person_cursor ON person (updated_at, id_number)")
        conn.commit()
    print(f"built {rows:,} rows in {path} in {time.perf_counter() - started:.1f} s")


def case(name: str, path: Path, *, dbapi: bool) -> dict:
    """One measured read in this process: returns rows, seconds and peak RSS."""
    started = time.perf_counter()
    if name == "adbc":
        import adbc_driver_sqlite.dbapi as adbc

        with adbc.connect(str(path)) as conn, conn.cursor() as cur:
            cur.execute("SELECT * FROM person ORDER BY updated_at, id_number")
            rows = cur.fetch_arrow_table().num_rows
    else:
        from connectors import connector_for
        from schemas import load_contract

        config = {"url": f"sqlite:///{path}", "adbc": "never" if dbapi else "auto"}
        ex = connector_for(load_contract("person"), config).extract(None)
        rows = sum(b.num_rows for b in ex)
        assert ex.proposed_state["cursor"]
    seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "seconds": seconds,
        "rss_mb": vmhwm_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dbapi", action="store_true", help="force the connector's DBAPI path (no ADBC)")
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "govhub-bench")
    parser.add_argument("--case", choices=["adbc", "connector"])
    args = parser.parse_args()
    path = args.db / f"person_{args.rows}.db" if args.db.suffix != ".db" else args.db
    if args.case:
        print(json.dumps(case(args.case, path, dbapi=args.dbapi)))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        build(path, args.rows)
    results: dict[str, list[dict]] = {"adbc": [], "connector": []}
    for _ in range(args.runs):
        for name in results:
            cmd = [sys.executable, __file__, "--case", name, "--db", str(path), "--rows", str(args.rows)]
            out = subprocess.run(cmd + (["--dbapi"] if args.dbapi else []), check=True, capture_output=True, text=True)
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    medians = {}
    for name, runs in results.items():
        secs = statistics.median(r["seconds"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        medians[name] = secs
        print(
            f"{name:10s} rows={runs[0]['rows']:,} median={secs:.2f}s rate={runs[0]['rows'] / secs:,.0f} rows/s "
            f"peak_rss={rss:.0f} MB"
        )
    path_name = "DBAPI" if args.dbapi else "auto (ADBC for SQLite)"
    print(f"ratio connector/adbc (rate) = {medians['adbc'] / medians['connector']:.2f}  [connector path: {path_name}]")


if __name__ == "__main__":
    main()
