"""The city benchmark's CLI at a tiny scale: its last stdout line is the JSON contract, and counts reconcile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import bench_city
from bench.city_sources import CITY, city_sizes

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"full", "incremental", "delivery"}
RESOURCES = {"person", "legal_entity", "credit_record", "payment"}


def _cli(*args: str, tmp_path: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVHUB_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_city", *args, "--workdir", str(tmp_path)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    return json.loads(last)


def _check_run(run: dict[str, Any]) -> None:
    assert run["mode"] == "run"
    assert set(run["sizes"]) >= RESOURCES
    stages = run["stages"]
    assert {s["kind"] for s in stages} == KINDS
    assert all(set(s) >= {"resource", "kind", "seconds", "rows", "peak_rss_mb"} for s in stages)
    assert all(s["seconds"] > 0 and s["peak_rss_mb"] > 0 for s in stages)
    # every resource: a full run, its snapshot deliveries, an incremental run, its change deliveries
    by = {(s["kind"], s["resource"], s["after"]): s for s in stages}
    assert len(by) == len(stages) == 16
    sizes, changes = run["sizes"], run["generation"]["tick_changes"]
    subscribers = Counter(sub["resource"] for sub in run["setup"]["subscriptions"])
    assert sum(subscribers.values()) == 10 and set(subscribers) == RESOURCES
    for resource in ("person", "legal_entity", "credit_record"):
        assert by["full", resource, "full"]["rows"] == sizes[resource]
        assert by["incremental", resource, "incremental"]["rows"] == sum(changes[resource].values())
    assert by["full", "payment", "full"]["rows"] == sizes["payment_rows"]
    assert by["incremental", "payment", "incremental"]["rows"] >= sum(changes["payment"].values())
    for s in stages:
        if s["kind"] != "delivery":
            assert s["rows"] == s["accepted"] + s["rejected"]
        else:
            ingest = by[s["after"], s["resource"], s["after"]]
            expected = 0 if s["after"] == "incremental" and not ingest["rows"] else subscribers[s["resource"]]
            assert s["done"] == s["deliveries"] == expected
            assert all(rows == ingest["accepted"] for rows in s["rows_each"]) or s["after"] == "incremental"
    assert sum(s["deliveries"] for s in stages if s["kind"] == "delivery" and s["after"] == "full") == 10
    totals = run["totals"]
    assert totals["seconds"] == pytest.approx(run["setup"]["seconds"] + sum(s["seconds"] for s in stages), abs=0.01)
    assert totals["peak_rss_mb"] == max(run["setup"]["peak_rss_mb"], *(s["peak_rss_mb"] for s in stages))
    assert run["generation"]["build_seconds"] > 0 and run["generation"]["tick_seconds"] > 0
    assert run["reconciled"] is True and run["problems"] == []


def test_city_cli_tiny_scale_json_contract_and_counts_reconcile(tmp_path: Path) -> None:
    run = _cli("--scale", "0.0005", "--in-process", tmp_path=tmp_path)
    assert run["scale"] == 0.0005 and run["isolation"] == "in-process"
    assert run["sizes"]["person"] == city_sizes(0.0005).person == round(CITY["person"] * 0.0005)
    _check_run(run)
    assert list(tmp_path.iterdir()) == []  # the work dir is removed without --keep


def test_series_verdict_reads_the_max_peak_rss_per_size(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(scale: float, **_: Any) -> dict[str, Any]:
        rss = {1: 400.0, 2: 440.0, 4: 900.0}[round(scale / 0.01)]
        stage = {"kind": "full", "resource": "person", "after": "full", "peak_rss_mb": rss}
        return {
            "scale": scale,
            "sizes": {"person": round(scale * CITY["person"])},
            "stages": [stage],
            "totals": {"seconds": 1.0, "peak_rss_mb": rss},
            "reconciled": True,
        }

    monkeypatch.setattr(bench_city, "run_city", fake_run)
    result = bench_city.run_series(0.01, seed=7, workdir=None, keep=False, log=lambda _: None)
    assert [s["scale"] for s in result["series"]] == [0.01, 0.02, 0.04]
    flat = result["flatness"]
    assert flat["max_peak_rss_mb"] == [400.0, 440.0, 900.0]
    assert flat["ratio_4x_over_1x"] == 2.25 and flat["flat"] is False
    assert flat["stage_growth_4x_over_1x"] == {"full:person": 2.25}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # three cities, every stage a cold process: about 5 minutes on 2 busy cores
def test_city_cli_series_in_child_processes(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("minutes (every stage a cold process): select it with -m slow")
    result = _cli("--series", "0.0002", tmp_path=tmp_path)
    assert result["mode"] == "series" and len(result["runs"]) == 3
    for run in result["runs"]:
        assert run["isolation"] == "process per stage"
        _check_run(run)
    assert len(result["flatness"]["max_peak_rss_mb"]) == 3 and isinstance(result["flatness"]["flat"], bool)
