"""SIGKILL the ingest and delivery runs at random points, re-run them, and compare with a clean run.

Every trial copies a hub as it stood before a run, kills the run (at a dangerous call drawn at random
and its n-th occurrence, within a lake write from a timer, or from outside after a random delay;
crash_points.py lists the calls), re-runs it and checks against a clean run of the same scenario:
the same curated and quarantined rows, watermark and catalogue versions; one publish event per
version; every Delta table opens, replays its log, has its files and counts its rows right; no run
left `running`, the lock free, a second re-run moving nothing; for deliveries each subscription
holds each version exactly once (records, files, department databases, exchange-log events).

Seeded (GOVHUB_RELIABILITY_SEED) and reproducible; `--long` draws 300+ trials. The trials run in a
process of their own (crash_runner.py) that forks every run from a pre-warmed parent.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.crash_support import CrashRun, TrialResult
from tests.reliability.ledger import long_form, record, scaled

ROOT = Path(__file__).resolve().parents[2]
INGEST_TRIALS = scaled(40, 240)
DELIVERY_TRIALS = scaled(20, 80)


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory: pytest.TempPathFactory) -> CrashRun:
    """All trials of this module, run once by crash_runner in a fresh process."""
    root = tmp_path_factory.mktemp("crash")
    out = root / "results.pickle"
    argv = [sys.executable, "-m", "tests.reliability.crash_runner", "--root", str(root), "--out", str(out),
            "--ingest", str(INGEST_TRIALS), "--delivery", str(DELIVERY_TRIALS)]  # fmt: skip
    done = subprocess.run(
        argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=3600 if long_form() else 900,
    )  # fmt: skip
    assert done.returncode == 0 and out.exists(), f"the crash runner failed:\n{done.stderr[-4000:]}"
    return pickle.loads(out.read_bytes())


def _ingest_case(r: TrialResult) -> str:
    where = r.where if r.where.startswith("during") else "after the run finished"
    return f"ingest {r.trial.resource} killed {where}"


def _delivery_case(r: TrialResult) -> str:
    return f"delivery killed {r.trial.point.label if r.trial.point else 'from outside at a random moment'}"


def _record(run: CrashRun, results: list[TrialResult], case_of: Callable[[TrialResult], str]) -> None:
    """One ledger line per case, with how the kills were made; before any assertion."""
    cases: dict[str, list[TrialResult]] = defaultdict(list)
    for r in results:
        cases[case_of(r)].append(r)
    for case, rs in sorted(cases.items()):
        record(
            "crash", case, tried=len(rs), held=sum(r.held for r in rs), rows_lost=sum(r.rows_lost for r in rs),
            seed=run.seed, at_a_call=sum(r.trial.point is not None for r in rs),
            from_outside=sum(r.trial.point is None for r in rs), not_killed=sum(not r.killed for r in rs),
            orphan_files=sum(r.orphans for r in rs),
        )  # fmt: skip


def _failures(run: CrashRun, results: list[TrialResult]) -> str:
    lines = [f"{r.trial.name}: {'; '.join(r.problems)} (rows lost {r.rows_lost})" for r in results if not r.held]
    return f"seed {run.seed} (GOVHUB_RELIABILITY_SEED); the hubs are kept under failed/:\n" + "\n".join(lines)


def _check(run: CrashRun, kind: str, trials: int) -> list[TrialResult]:
    results = [r for r in run.results if r.trial.kind == kind]
    assert len(results) >= trials
    killed = sum(r.killed for r in results)
    assert killed >= 0.9 * len(results), f"only {killed} of {len(results)} {kind} runs were killed"
    assert {r.trial.resource for r in results} == {"person", "legal_entity", "credit_record", "payment"}
    return results


def test_a_killed_ingest_reruns_to_exactly_the_clean_result(crash_run: CrashRun) -> None:
    results = [r for r in crash_run.results if r.trial.kind == "ingest"]
    _record(crash_run, results, _ingest_case)
    _check(crash_run, "ingest", INGEST_TRIALS)
    assert {r.trial.scenario for r in results} == {"first", "increment"}
    assert all(r.held for r in results), _failures(crash_run, results)
    assert sum(r.rows_lost for r in results) == 0


def test_a_killed_delivery_delivers_each_version_exactly_once(crash_run: CrashRun) -> None:
    results = [r for r in crash_run.results if r.trial.kind == "delivery"]
    _record(crash_run, results, _delivery_case)
    _check(crash_run, "delivery", DELIVERY_TRIALS)
    assert all(r.held for r in results), _failures(crash_run, results)
    assert sum(r.rows_lost for r in results) == 0
