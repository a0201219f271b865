"""`make bench`: every benchmark, one after another, each in its own process (`--quick` for small sizes)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> (full-size arguments, quick arguments)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "bench.bench_codes": ([], ["--rows", "200000", "--runs", "3", "--baseline-rows", "20000"]),
    "bench.bench_sql_connector": ([], ["--rows", "100000", "--runs", "1"]),
    "bench.bench_quality": ([], ["--rows", "100000", "--repeat", "1", "--gx-repeat", "1"]),
    "bench.bench_lake": ([], ["--rows", "100000", "--repeat", "1"]),
    "bench.bench_pipeline": ([], ["--quick", "--runs", "1"]),
    "bench.bench_production": ([], ["--rows", "100000", "--runs", "1"]),
    "bench.bench_delivery": ([], ["--rows", "100000", "--repeat", "1"]),
    "bench.bench_verify": ([], ["--persons", "100000", "--seconds", "5"]),
    "bench.bench_seal": ([], ["--rounds", "2"]),
    "bench.bench_exchange_log": ([], ["--events", "10000", "--single", "1000", "--no-pg"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in a few minutes")
    parser.add_argument("only", nargs="*", help="run only these modules (e.g. bench_lake)")
    args = parser.parse_args()
    failed = []
    for module, (full, quick) in BENCHMARKS.items():
        if args.only and module.split(".")[-1] not in args.only:
            continue
        print(f"\n=== {module} {'(quick)' if args.quick else ''}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", module, *(quick if args.quick else full)], cwd=ROOT)
        print(f"=== {module}: exit {code} in {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
