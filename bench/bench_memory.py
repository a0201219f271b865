"""Peak RSS of a snapshot delivery and of a reference check as the person table grows (1x, 2x, 4x).

Run: .venv/bin/python -m bench.bench_memory [--sizes 250000,500000,1000000] [--baseline-root DIR] [--repeat N]
     [--cases deliver,refs]

For each size a person table is loaded once (`bench_lake.person_rows` through `CuratedTable.commit`),
then, each in its own process (peak RSS = the child's VmHWM):

- **deliver**: `deliver_resource` of the snapshot to three subscribers — file with the key
  pseudonymised (no PII access), a department database (SQLite, PII access), api (masked).
- **refs**: the key set a `references` check gets for `person.id_number`
  (`ResourceContext.references()`), then 1 M lookups in 64 Ki-value batches, as validate makes them.

A case's peak varies by ±5 % from one process to the next (allocator and I/O thread timing):
`--repeat N` runs each case N times and reports the median, with the lowest and highest beside it.
The last line gives each case's largest over smallest size (medians), against the 1.25 line.

`--baseline-root` runs the same cases again with another checkout of govhub first on the path
(e.g. the code before a change, extracted with `git archive`), in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._delivery_hub import Sub, delivery_hub
from bench._harness import emit, loadavg, median, print_table, run_case, vmhwm_mb

ROOT = Path(__file__).resolve().parents[1]
# copied into a --baseline-root checkout with this script: the bench code that may be newer than it
OWN_FILES = ("bench_memory.py", "_delivery_hub.py")

SECRET = b"bench-memory-secret-32-bytes-...."


def case_load(home: str, rows: int) -> None:
    from bench.bench_lake import CONTRACT, person_rows
    from lake import Lake

    Lake(f"{home}/lake").curated(CONTRACT).commit(person_rows(rows), app_id="bench", run_seq=1, metadata={})
    emit({"rows": rows})


def case_deliver(home: str) -> None:
    from sqlalchemy.orm import Session

    from exchange.delivery import deliver_resource

    with delivery_hub(home, prefix="bench-memory-") as hub:
        fields, dept_db = hub.fields, f"sqlite:///{hub.work}/dept.db"
        subs = [
            Sub(1, "11430900MB0000001X", "file", False, fields=fields),
            Sub(2, "11430900MB0000002X", "database", True, target_url=dept_db, target_name="dept-db", fields=fields),
            Sub(3, "11430900MB0000003X", "api", False, fields=fields),
        ]
        started = time.perf_counter()
        with Session(hub.engine, expire_on_commit=False) as session:
            results = deliver_resource(
                session,
                hub.lake,
                hub.contract,
                secret=SECRET,
                subscriptions=subs,
                targets=lambda sub: str(sub.target_url),
            )
        seconds = time.perf_counter() - started
    emit(
        {
            "seconds": seconds,
            "rows": [r.rows for r in results],
            "status": [r.status for r in results],
            "vmhwm_mb": vmhwm_mb(),
        }
    )


def case_refs(home: str) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from govhub.pipeline.resources import open_resource

    os.environ["GOVHUB_HOME"] = home
    started = time.perf_counter()
    refs = open_resource("legal_entity").references()["person.id_number"]
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(16):  # 16 x 64 Ki lookups, as validate checks batch by batch
        ids = pa.array([f"43090219{i:010d}" for i in rng.integers(0, 2_000_000, 64 * 1024)])
        if hasattr(refs, "contains"):
            found = refs.contains(ids)
        else:  # the value column, as the check used it: combined and hashed per batch
            found = pc.is_in(ids, value_set=pa.chunked_array([refs]).combine_chunks())
        hits += pc.sum(found).as_py() or 0
    emit({"seconds": time.perf_counter() - started, "hits": hits, "vmhwm_mb": vmhwm_mb()})


def _child(args: list[str], root: Path) -> dict:
    env = {"PYTHONPATH": str(root)}
    result = run_case([sys.executable, "-m", "bench.bench_memory", *args], env=env, cwd=root)
    return {**result.data, "rss_mb": result.rss_mb, "wall": result.wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250000,500000,1000000")
    parser.add_argument("--baseline-root", help="another govhub checkout to measure in the same run")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case (the median is reported)")
    parser.add_argument("--cases", default="deliver,refs", help="which cases to run (comma-separated)")
    parser.add_argument("--case", choices=["load", "deliver", "refs"], help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case == "load":
        return case_load(args.home, args.rows)
    if args.case == "deliver":
        return case_deliver(args.home)
    if args.case == "refs":
        return case_refs(args.home)
    roots = {"after": ROOT, **({"before": Path(args.baseline_root)} if args.baseline_root else {})}
    if args.baseline_root:  # this script may be newer than the baseline checkout
        for name in OWN_FILES:
            shutil.copyfile(Path(__file__).with_name(name), Path(args.baseline_root, "bench", name))
    load_start, table = loadavg(), []
    peaks: dict[tuple[str, str], list[float]] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        home = tempfile.mkdtemp(prefix=f"bench-memory-{size}-")
        try:
            _child(["--case", "load", "--home", home, "--rows", str(size)], ROOT)
            for label, root in roots.items():
                for case in args.cases.split(","):
                    runs = []
                    for _ in range(args.repeat):
                        r = _child(["--case", case, "--home", home], root)
                        runs.append(r)
                        print(json.dumps({"size": size, "code": label, "case": case, **r}, default=str), flush=True)
                    hwm = [r["vmhwm_mb"] for r in runs]
                    peaks.setdefault((label, case), []).append(median(hwm))
                    spread = f"{min(hwm):.0f}–{max(hwm):.0f}" if len(hwm) > 1 else ""
                    seconds = median(r["seconds"] for r in runs)
                    table.append([f"{size:,}", label, case, f"{seconds:.1f}", f"{median(hwm):.0f}", spread])
        finally:
            shutil.rmtree(home, ignore_errors=True)
    print_table(
        ["persons", "code", "case", "work s", "peak RSS MB (VmHWM, median)", "lowest–highest"],
        table,
        title=f"load {load_start} → {loadavg()}, {args.repeat} run(s) a case",
    )
    for (label, case), values in peaks.items():
        ratio = values[-1] / values[0]
        verdict = "flat" if ratio <= 1.25 else "NOT flat"
        print(f"{label} {case}: largest / smallest size {ratio:.3f} ({verdict} within 1.25)")


if __name__ == "__main__":
    main()
