"""Airflow's overhead per ingest DAG run: dag.test() with no-op stages vs calling the stages directly.

Usage: .venv/bin/python bench/airflow_overhead.py [runs]
Prints the one-off costs (fresh DB migration, up-to-date check, first dag.test() warm-up) and the
median per-run overhead of later runs, against the direct-call baseline measured in the same run.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import types
from pathlib import Path


def _noop_pipeline() -> types.ModuleType:
    module = types.ModuleType("govhub.pipeline")
    module.begin = lambda resource, **_: f"{resource}-000001-bench"
    module.extract = lambda run: {"extracted": 0}
    module.validate = lambda run: {"accepted": 0, "rejected": 0, "warned": 0}
    module.publish = lambda run: {"version": None}
    module.register = lambda run: {"version": None, "scorecard": {}}
    module.advance = lambda run: {"resource": run.rsplit("-", 2)[0], "run_id": run, "status": "succeeded"}
    module.fail = lambda run, error: None
    return module


def _direct(module: types.ModuleType) -> float:
    started = time.perf_counter()
    run = module.begin("person")
    for stage in (module.extract, module.validate, module.publish, module.register, module.advance):
        stage(run)
    return time.perf_counter() - started


def main(runs: int = 5) -> None:
    sys.modules["govhub.pipeline"] = module = _noop_pipeline()
    home = Path(tempfile.mkdtemp(prefix="govhub-bench-")) / "airflow"

    started = time.perf_counter()
    from govhub.orchestration import _load_dags, migrate, run_dags

    migrate(home)
    fresh = time.perf_counter() - started
    started = time.perf_counter()
    migrate(home)
    check = time.perf_counter() - started
    started = time.perf_counter()
    _load_dags()
    parse = time.perf_counter() - started

    first = run_dags(["person"], airflow_home=home)[0]["airflow_seconds"]
    later = [run_dags(["person"], airflow_home=home)[0]["airflow_seconds"] for _ in range(runs)]
    direct = statistics.median(_direct(module) for _ in range(runs))
    four = run_dags(airflow_home=home)
    median = statistics.median(later)

    print(f"import airflow + migrate fresh SQLite DB : {fresh:8.2f} s (once per AIRFLOW_HOME)")
    print(f"migrate when up to date (head check)      : {check * 1000:8.1f} ms")
    print(f"parse dags/ (4 DAGs)                      : {parse * 1000:8.1f} ms")
    print(f"first dag.test() in a process (warm-up)   : {first:8.2f} s")
    print(f"later dag.test(), median of {runs}            : {median:8.3f} s per DAG run (6 tasks)")
    print(f"direct stage calls (baseline), median     : {direct * 1000:8.3f} ms")
    ratio = median / max(direct, 1e-9)
    print(f"overhead per DAG run vs baseline          : {median - direct:8.3f} s  (x{ratio:,.0f})")
    per_dag = ", ".join(f"{s['resource']} {s['airflow_seconds']:.2f}" for s in four)
    print(f"run_dags(all four), seconds per DAG       : {per_dag}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
