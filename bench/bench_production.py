"""The person pipeline on the production stores (PostgreSQL metadata, S3 lake) vs the embedded default.

For each size, `--runs` rounds; in each round two full runs of `run_ingest("person")` over a copy of
the cached registry (`bench/out/population_<N>_s7.sqlite`, built once as bench_pipeline.py does),
each in its own subprocess with a fresh GOVHUB_HOME:

  embedded     SQLite metadata store + a local lake folder under GOVHUB_HOME (the default)
  production   a throwaway PostgreSQL database on 127.0.0.1:5432 (migrated in the child) + an
               S3 lake `s3://lake/hub` on a moto server (its own process, fresh per round; the
               bucket is made with the minio SDK)

Prints per-stage median seconds (`IngestRun.stage_seconds`), rows/s, production/embedded ratios and
peak RSS of each case, with the load average. moto keeps objects in memory and speaks plain HTTP on
localhost, so the S3 figures measure the S3 protocol path (requests, multipart, Delta log on S3),
not MinIO's disks or a network.

    .venv/bin/python bench/bench_production.py [--rows 1000000] [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "lake"))  # lake_moto: moto's S3 server in a child process

from bench._harness import CaseResult, emit, loadavg, median, print_table, run_case  # noqa: E402
from bench.bench_pipeline import STAGES, cached_registry, case_ingest, registry_hub  # noqa: E402

CASES = ("embedded", "production")
BUCKET = "lake"
S3_KEY, S3_SECRET = "govhub-bench", "govhub-bench-secret"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# the variables a case sets; any inherited value would leak one store into the other case
GOVHUB_STORE_VARS = (
    "GOVHUB_DB_URL",
    "GOVHUB_LAKE_URL",
    "GOVHUB_S3_ENDPOINT",
    "GOVHUB_S3_ACCESS_KEY",
    "GOVHUB_S3_SECRET_KEY",
    "GOVHUB_ENVIRONMENT",
)


def _child(env: dict[str, str]) -> CaseResult:
    return run_case([sys.executable, str(Path(__file__).resolve()), "--case", "ingest"], env=env, cwd=ROOT)


def _postgres_reachable() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.SQLAlchemyError as e:
        return str(getattr(e, "orig", e)).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


def one_round(size: int, round_no: int) -> dict[str, CaseResult]:
    """The embedded and the production full run of one round, each on a fresh copy of the registry."""
    import lake_moto
    from minio import Minio

    from simulators.testing import server_database

    for key in GOVHUB_STORE_VARS:
        os.environ.pop(key, None)
    out: dict[str, CaseResult] = {}
    for case in CASES:
        work = OUT / f"prod_{size}_{round_no}_{case}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        _, env = registry_hub(cached_registry(size), work)
        try:
            if case == "embedded":
                out[case] = _child(env)
                continue
            proc, port = lake_moto.start()
            try:
                endpoint = f"127.0.0.1:{port}"
                Minio(endpoint, access_key=S3_KEY, secret_key=S3_SECRET, secure=False).make_bucket(BUCKET)
                with server_database(POSTGRES_URL, prefix="govhub_bench") as url:
                    env |= {
                        "GOVHUB_DB_URL": url,
                        "GOVHUB_LAKE_URL": f"s3://{BUCKET}/hub",
                        "GOVHUB_S3_ENDPOINT": f"http://{endpoint}",
                        "GOVHUB_S3_ACCESS_KEY": S3_KEY,
                        "GOVHUB_S3_SECRET_KEY": S3_SECRET,
                        "GOVHUB_S3_ALLOW_HTTP": "true",
                    }
                    out[case] = _child(env)
                    _dispose(url)
            finally:
                proc.terminate()
                proc.join(10)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return out


def _dispose(url: str) -> None:
    """Drop the parent's pooled connections to the throwaway database (none normally: the child used it)."""
    from govhub.db import engine_for

    engine_for(url).dispose()


def report(size: int, rounds: list[dict[str, CaseResult]]) -> list[object]:
    """Print one size's medians; return its summary row."""

    def med(case: str, key: str = "seconds") -> float:
        return median(r[case][key] for r in rounds)

    table = []
    for case in CASES:
        secs, rows = med(case), rounds[0][case]["rows"]
        stages = [median(r[case]["stages"].get(s, 0.0) for r in rounds) for s in STAGES]
        table.append(
            [
                case,
                rows,
                *stages,
                secs,
                rows / secs if secs else float("nan"),
                max(r[case].rss_mb for r in rounds),
                max(r[case]["vmhwm_mb"] for r in rounds),
            ]
        )
    ratios = [
        "production/embedded",
        "",
        *(p / e if e else float("nan") for p, e in zip(table[1][2:8], table[0][2:8], strict=True)),
        "",
        "",
        "",
    ]
    print_table(
        ["case", "rows", *STAGES, "full s", "rows/s", "peak RSS MB (wait4)", "VmHWM MB"],
        [*table, ratios],
        title=f"size {size:,}: medians of {len(rounds)} run(s), seconds per stage; loadavg at end {loadavg()}",
    )
    print("loadavg per case (last round): " + ", ".join(f"{c} [{rounds[-1][c].loadavg}]" for c in CASES))
    accepted = {c: {r[c]["accepted"] for r in rounds} for c in CASES}
    if accepted["embedded"] != accepted["production"]:
        print(f"WARNING: accepted rows differ between the stores: {accepted}")
    ratio = table[1][7] / table[0][7] if table[0][7] else float("nan")
    return [size, table[0][7], table[1][7], ratio, table[0][8], table[1][8], table[0][9], table[1][9]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000", help="persons in the registry; several: 250000,1000000")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--case", choices=["ingest"], help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args()
    if args.case == "ingest":
        return emit(case_ingest(None, warm=False))
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    reason = _postgres_reachable()
    if reason:
        raise SystemExit(f"PostgreSQL not reachable on 127.0.0.1:5432 ({reason}): the production case needs it")
    summary = []
    for size in [int(s) for s in args.rows.split(",")]:
        cached_registry(size)
        rounds = [one_round(size, i) for i in range(args.runs)]
        summary.append(report(size, rounds))
    print_table(
        [
            "rows",
            "embedded s",
            "production s",
            "production/embedded",
            "embedded rows/s",
            "production rows/s",
            "embedded RSS MB",
            "production RSS MB",
        ],
        summary,
        title=f"summary (full run, cold process); loadavg {loadavg()}",
    )


if __name__ == "__main__":
    main()
