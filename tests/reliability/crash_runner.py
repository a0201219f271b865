"""Run the crash trials in a process of their own and pickle the results.

    python -m tests.reliability.crash_runner --root DIR --out results.pickle [--ingest N] [--delivery M]

The trials fork their runs from a pre-warmed parent, which must be single-threaded and must not have
started delta-rs' runtime: a pytest process that already ran other lake tests is neither, so the
test starts this fresh process as the parent of every fork.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pickle
import sys
import time
from pathlib import Path

from tests.reliability.crash_support import CrashLab, CrashRun, plan_trials, regression_trials, seed

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.crash_runner", description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="an empty folder for sources, hubs and templates")
    parser.add_argument("--out", type=Path, required=True, help="where to pickle the results")
    parser.add_argument("--ingest", type=int, default=40, help="ingest trials")
    parser.add_argument("--delivery", type=int, default=20, help="delivery trials")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("GOVHUB_CRASH_WORKERS", "2")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the re-runs' recovery warnings are expected, by the hundred
    for module in ("great_expectations", "govhub.pipeline", "govhub.delivery_runner"):  # once, not per fork
        importlib.import_module(module)

    lab = CrashLab(args.root, workers=args.workers)
    try:
        lab.start()
        trials = plan_trials(lab, "ingest", args.ingest, seed=seed())
        trials += plan_trials(lab, "delivery", args.delivery, seed=seed(), first_index=len(trials))
        trials += regression_trials(lab, first_index=len(trials))
        started = time.monotonic()
        results = lab.run_all(trials)
        run = CrashRun(
            seed=seed(),
            workers=args.workers,
            setup_seconds=round(lab.setup_seconds, 1),
            trial_seconds=round(time.monotonic() - started, 1),
            results=results,
            clean_seconds={"/".join(k): round(r.seconds, 3) for k, r in lab.references.items()},
            root=str(args.root),
        )
    finally:
        lab.stop()
    args.out.write_bytes(pickle.dumps(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
