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

import copy
import os
import pickle
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.crash_checks import compare_delivery, compare_ingest, delta_health
from tests.reliability.crash_support import CrashRun, TrialResult
from tests.reliability.ledger import long_form, record, scaled

ROOT = Path(__file__).resolve().parents[2]
INGEST_TRIALS = scaled(34, 230)
DELIVERY_TRIALS = scaled(16, 80)
RUNNER_TIMEOUT = 3600 if long_form() else 900
# the module's trials run in the first test's setup: a busy machine may need more than the default 300 s
pytestmark = pytest.mark.timeout(RUNNER_TIMEOUT + 60)


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory: pytest.TempPathFactory) -> CrashRun:
    """All trials of this module, run once by crash_runner in a fresh process."""
    root = tmp_path_factory.mktemp("crash")
    out = root / "results.pickle"
    argv = [
        sys.executable,
        "-m",
        "tests.reliability.crash_runner",
        "--root",
        str(root),
        "--out",
        str(out),
        "--ingest",
        str(INGEST_TRIALS),
        "--delivery",
        str(DELIVERY_TRIALS),
    ]
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT,
    )
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
            "crash",
            case,
            tried=len(rs),
            held=sum(r.held for r in rs),
            rows_lost=sum(r.rows_lost for r in rs),
            seed=run.seed,
            at_a_call=sum(r.trial.point is not None for r in rs),
            from_outside=sum(r.trial.point is None for r in rs),
            not_killed=sum(not r.killed for r in rs),
            orphan_files=sum(r.orphans for r in rs),
        )


def _failures(run: CrashRun, results: list[TrialResult]) -> str:
    lines = [f"{r.trial.name}: {'; '.join(r.problems)} (rows lost {r.rows_lost})" for r in results if not r.held]
    kept = Path(run.root, "failed")
    return f"seed {run.seed} (GOVHUB_RELIABILITY_SEED); the re-run hubs are kept in {kept}:\n" + "\n".join(lines)


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


# -- the checks themselves can fail: each finds what it is meant to find ----------------------------


def _ingest_snapshot() -> dict:
    healthy = {"exists": True, "version": 1, "problems": [], "orphans": 0}
    return {
        "curated": ['{"id": 1}', '{"id": 2}'],
        "quarantine": ['{"id": 3}'],
        "watermark": {"since": "2026-03-02"},
        "last_version": 1,
        "lock": None,
        "versions": [(0, 2, 0, 0), (1, 0, 1, 0)],
        "versions_registered": [(0, 2, True), (1, 2, True)],
        "runs": Counter(succeeded=2),
        "published": {0: 1, 1: 1},
        "chain_ok": True,
        "health": {"curated": healthy, "quarantine": healthy},
        "curated_row_count": 2,
        "staging_left": [],
    }


@pytest.mark.parametrize(
    ("change", "lost", "expect"),
    [
        (lambda s: s["curated"].pop(), 1, "curated rows differ"),
        (lambda s: s["quarantine"].append('{"id": 3}'), 0, "quarantine rows differ"),
        (lambda s: s.update(watermark={"since": "2026-03-01"}), 0, "watermark"),
        (lambda s: s["published"].update({1: 2}), 0, "publish events"),
        (lambda s: s["runs"].update(running=1), 0, "left 'running'"),
        (lambda s: s.update(lock="person-000002-abcd"), 0, "lock"),
        (lambda s: s.update(staging_left=["person-000001-abcd"]), 0, "staging folders left"),
        (lambda s: s["health"]["curated"]["problems"].append("1 data files missing"), 0, "data files missing"),
        (lambda s: s.update(versions_registered=[(0, 2, True), (1, None, False)]), 0, "versions_registered"),
    ],
)
def test_the_ingest_comparison_finds_each_difference(change: Callable, lost: int, expect: str) -> None:
    clean, got = _ingest_snapshot(), copy.deepcopy(_ingest_snapshot())
    assert compare_ingest(clean, got) == ([], 0)
    change(got)
    problems, rows_lost = compare_ingest(clean, got)
    assert rows_lost == lost and any(expect in p for p in problems), problems


def _delivery_snapshot() -> dict:
    record_ = {
        "from": None,
        "status": "done",
        "mode": "database",
        "rows": (2, 0, 0),
        "checksum": "c",
        "bytes": 9,
        "location": "person",
    }
    filed = {**record_, "mode": "file", "location": "deliveries/d/person/snapshot-v0.parquet"}
    return {
        "records": {(1, 0): record_, (2, 0): filed},
        "events": {(1, 0): 1, (2, 0): 1},
        "files": {filed["location"]: "sha"},
        "on_disk": [filed["location"]],
        "databases": {1: {"rows": ['{"id": 1}', '{"id": 2}'], "book": Counter({(1, 0): 1})}},
        "chain_ok": True,
    }


@pytest.mark.parametrize(
    ("change", "lost", "expect"),
    [
        (lambda s: s["databases"][1]["book"].update({(1, 0): 1}), 1, "recorded 2 times"),
        (lambda s: s["databases"][1]["book"].clear(), 1, "recorded 0 times"),
        (lambda s: s["records"][(2, 0)].update(status="running"), 1, "running"),
        (lambda s: s["files"].update({"deliveries/d/person/snapshot-v0.parquet": None}), 1, "sha256 None"),
        (lambda s: s["events"].update({(2, 0): 2}), 0, "2 delivery events"),
        (lambda s: s["databases"][1]["rows"].pop(), 0, "1 rows missing"),
        (lambda s: s.update(chain_ok=False), 0, "chain"),
    ],
)
def test_the_delivery_comparison_finds_each_difference(change: Callable, lost: int, expect: str) -> None:
    clean, got = _delivery_snapshot(), copy.deepcopy(_delivery_snapshot())
    assert compare_delivery(clean, got) == ([], 0)
    change(got)
    problems, versions_lost = compare_delivery(clean, got)
    assert versions_lost == lost and any(expect in p for p in problems), problems


def test_the_delta_health_check_finds_a_missing_file_and_a_broken_log(tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    uri = str(tmp_path / "t")
    write_deltalake(uri, pa.table({"id": [1, 2]}))
    write_deltalake(uri, pa.table({"id": [3]}), mode="append")
    healthy = delta_health(uri, 3)
    assert (healthy["problems"], healthy["version"]) == ([], 1)
    assert delta_health(uri, 2)["problems"]  # read() disagreeing with the log's count
    (tmp_path / "t" / "orphan.parquet").write_bytes(b"PAR1")
    assert delta_health(uri, 3)["orphans"] == 1
    data = sorted(p for p in (tmp_path / "t").glob("part-*.parquet"))
    data[0].unlink()
    assert any("missing" in p for p in delta_health(uri, 3)["problems"])
    (tmp_path / "t" / "_delta_log" / "00000000000000000001.json").write_text("{not json")
    assert delta_health(uri, 3)["problems"]
