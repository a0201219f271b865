"""The benchmark report: summary ratios and targets, the README section between markers, parsers, the chart."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bench import report
from bench.bench_peers import summarise
from bench.chart import write_chart

ROWS, CHANGED = 1_000_000, 11_000


def _run(case: str, phase: str, seconds: float, rows: int, rss: float = 500.0, **extra: object) -> dict:
    return {
        "case": case,
        "phase": phase,
        "seconds": seconds,
        "wall": seconds + 3,
        "rss_mb": rss,
        "rows_read": rows,
        "rows_written": rows,
        "loadavg": "1 1 1",
        **extra,
    }


def _runs(
    govhub_full: float = 16.0, govhub_inc: float = 4.0, dlt_inc_rows: int = CHANGED, ingest_full: float = 14.0
) -> list[dict]:
    stages = {"extract": 1.0, "validate": 1.0, "publish": 1.0, "register": 1.0, "advance": 0.1}
    out = []
    for _ in range(3):
        out += [
            _run("raw", "full", 8.0, ROWS, 440, cpu=4.0),
            _run("raw-stream", "full", 9.0, ROWS, 170),
            _run("dlt-pyarrow", "full", 50.0, ROWS, 450),
            _run("dlt-connectorx", "full", 20.0, ROWS, 900),
            _run("govhub", "full", govhub_full, ROWS, 700, pipeline_vmhwm_mb=600.0, stages=stages, cpu=10.0),
            _run("govhub-ingest", "full", ingest_full, ROWS, 720, cpu=16.0),
            {"case": "change", "phase": "change", "updated": 10_000, "deleted": 500, "inserted": 500},
            _run("dlt-pyarrow", "incremental", 5.0, dlt_inc_rows),
            _run("dlt-connectorx", "incremental", 4.0, CHANGED),
            _run("govhub", "incremental", govhub_inc, CHANGED, 650, pipeline_vmhwm_mb=600.0, stages=stages),
        ]
    return out


def _summary(**kw: object) -> dict:
    s = summarise(_runs(**kw), rows=ROWS, changed=CHANGED)  # type: ignore[arg-type]
    s.update(source="sqlite", repeat=3, loadavg_end="1 1 1")
    return s


def test_summary_ratios_and_targets_follow_the_measurements() -> None:
    s = _summary(govhub_full=11.0, govhub_inc=4.0)
    by = {(c["case"], c["phase"]): c for c in s["cases"]}
    assert s["fastest_dlt"] == "dlt-connectorx"
    assert by[("govhub", "full")]["vs_raw"] == pytest.approx(8 / 11)
    assert by[("govhub", "full")]["vs_raw_cpu"] == pytest.approx(0.4)  # CPU seconds: raw 4.0, govhub 10.0
    assert by[("govhub", "full")]["vs_dlt"] == pytest.approx(20 / 11)
    assert by[("govhub-ingest", "full")]["vs_raw"] == pytest.approx(8 / 14)
    assert by[("govhub", "incremental")]["incremental_ratio"] == pytest.approx(4 / 11)
    status = [t["status"] for t in s["targets"]]
    # 0.73× raw ≥ 0.7, run_ingest 0.57× ≥ 0.5, 1.8× dlt, 600 < 900 MB, 36 % ≥ 5 %
    assert status == ["PASS", "PASS", "PASS", "PASS", "MISS"]
    assert "CPU seconds: 0.40×" in s["targets"][0]["measured"]

    slow = _summary(govhub_full=40.0, govhub_inc=1.0, ingest_full=20.0)
    assert [t["status"] for t in slow["targets"]] == ["MISS", "MISS", "MISS", "PASS", "PASS"]


def test_row_count_mismatch_is_reported() -> None:
    s = _summary(dlt_inc_rows=CHANGED + 1)
    bad = [c for c in s["row_checks"] if not c["ok"]]
    assert [(c["case"], c["phase"]) for c in bad] == [("dlt-pyarrow", "incremental")]
    text = report.render_peers({**s, "status": "ok", "measured_at": "now", "loadavg": "1 1 1"})
    assert "Row counts **differ**" in text and "dlt-pyarrow incremental read 11,001" in text


def _results(parts: dict) -> dict:
    machine = {
        "cores": 2,
        "cpu": "cpu",
        "ram_gib": 24,
        "os": "Debian",
        "python": "3.11",
        "commit": "abc",
        "dirty": False,
        "versions": {"dlt": "1.31.0"},
        "loadavg_start": "2 2 2",
    }
    return {
        "generated_at": "2026-01-01 00:00 UTC",
        "machine": machine,
        "loadavg_end": "3 3 3",
        "parts": parts,
        "commands": ["make bench"],
    }


def test_readme_section_is_replaced_and_hand_written_text_kept(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    hand = "# Benchmarks\n\nMethods.\n\n{}\nold figures\n{}\n\n## Profiles\n\nKept.\n"
    readme.write_text(hand.format(report.BEGIN, report.END))
    peers = {**_summary(), "status": "ok", "measured_at": "now", "loadavg": "1 1 1", "command": "x --rows 5"}
    parts = {"peers": peers, "city": report._part("not run", reason="bench/bench_city.py is not in this tree yet")}
    section = report.render(_results(parts), chart="rows_per_second.png")
    report.rewrite_readme(readme, section, {"parts": parts})
    text = readme.read_text()
    assert "old figures" not in text
    assert text.startswith("# Benchmarks\n\nMethods.") and text.rstrip().endswith("## Profiles\n\nKept.")
    assert "| govhub | full | 1,000,000 |" in text and "![rows per second](rows_per_second.png)" in text
    assert "_city: not run (" in text and "not in this tree yet" in text
    assert "24.0 GiB" not in text and "24 GiB RAM" in text
    assert report.previous_parts(readme)["peers"]["command"] == "x --rows 5"  # "--" survives the comment
    report.rewrite_readme(readme, "second\n", {"parts": {}})
    assert readme.read_text().count(report.BEGIN) == 1 and "second" in readme.read_text()


def test_city_absent_is_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "BENCH", tmp_path)
    part = report.run_city(argparse.Namespace(scale="1", city_series=""))
    assert part["status"] == "not run"


def _verify_row(code: str, db: str, mode: str, **changed: object) -> dict:
    """One row of the verification benchmark's RESULT-JSON: single answers, 100 of them all logged."""
    row = {"code": code, "db": db, "mode": mode, "scenario": "single", "answers_s": 2600.0, "p50": 3.0}
    row |= {"p99": 12.0, "non2xx": 0, "answers": 100, "logged": 100, "cpu_ms": 0.8, "load": "0.5"}
    return {**row, **changed}


def test_parsers_read_the_scripts_output() -> None:
    verify = (
        "in-process: lookup_us 18.000, seal_ms 0.560\n\n"
        f"{'seal/log':15} {'scenario':9} {'req/s':>8} {'answers/s':>10} {'p50 ms':>7} {'p99 ms':>7}\n"
        f"{'sm2/commit':15} {'sealed':9} {154:8.0f} {154:10.0f} {48.0:7.2f} {243.0:7.2f} {0:6d} {1540:8d} {1540:8d}\n"
        f"{'ed25519/queued':15} {'batch100':9} {18:8.0f} {1800:10.0f} {420.0:7.2f} {674.5:7.2f} {2:6d} {18000:8d} "
        f"{18000:8d}\n"
    )
    parsed = report.parse_verify(verify)
    modes = [(r["mode"], r["scenario"]) for r in parsed["rows"]]
    assert modes == [("sm2/commit", "sealed"), ("ed25519/queued", "batch100")]
    assert parsed["rows"][1]["p99"] == 674.5 and parsed["rows"][1]["non2xx"] == 2
    assert parsed["in_process"] == "lookup_us 18.000, seal_ms 0.560"
    rows = [
        _verify_row("before", "sqlite", "sm2/commit"),
        _verify_row("after", "postgresql", "sm2/commit"),
        _verify_row("after", "sqlite", "sm2/queued"),
        _verify_row("after", "sqlite", "sm2/commit", answers_s=2500.0, answers=1000, logged=999),
    ]
    result = report.parse_verify("noise\nRESULT-JSON " + json.dumps({"rows": rows, "in_process": {"seal_sm2_ms": 0.3}}))
    assert result["in_process"] == "seal_sm2_ms 0.300" and len(result["rows"]) == 4
    judged = report.durable_sm2(result["rows"])  # the goal's row: current code, SQLite, SM2, committed first
    assert judged == rows[3]
    assert report.verify_status(judged)[0] is False  # one answer missing from the log fails it, fast or not
    assert report.verify_status({**judged, "logged": 1000})[0] is True
    part = {"persons": 10, "measured_at": "now", "loadavg": "1.0", "rows": rows, "in_process": ""}
    assert "**MISS**" in report.render_verify(part) and "999/1,000 in the log" in report.render_verify(part)
    delivery = (
        f"1% change to 10, incremental  median {7.8:7.2f} s  peak RSS {630:6.0f} MB ({10000:,} rows each)\n"
        f"full snapshot to the same 10        {164.3:7.2f} s  peak RSS {1140:6.0f} MB ({1000000:,} rows each)\n"
        "ratio full / incremental: x21.1 (target >= x20)\n"
    )
    d = report.parse_delivery(delivery)
    assert (d["incremental_s"], d["full_s"], d["full_rows"], d["ratio"]) == (7.8, 164.3, 1_000_000, 21.1)


def test_chart_is_a_png(tmp_path: Path) -> None:
    path = write_chart(_summary(), tmp_path / "chart.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    with pytest.raises(ValueError, match="no full-load case"):
        write_chart({"cases": []}, tmp_path / "empty.png")


def test_city_run_and_series_render_with_their_targets() -> None:
    stage = {
        "kind": "ingest",
        "resource": "person",
        "after": "full",
        "rows": 40_000,
        "seconds": 12.5,
        "work_seconds": 9.0,
        "peak_rss_mb": 800.0,
    }
    run = {
        "scale": 0.01,
        "sizes": {"person": 40_000, "payment_files": 100},
        "setup": {"seconds": 3.0},
        "stages": [stage, {**stage, "kind": "delivery", "after": "incremental", "peak_rss_mb": 2100.0}],
        "totals": {
            "seconds": 1000.0,
            "ingest_seconds": 20.0,
            "delivery_seconds": 5.0,
            "peak_rss_mb": 2100.0,
            "under_15_min": False,
            "under_2_gb": False,
        },
        "reconciled": True,
    }
    series = {
        "series": [
            {"scale": 0.01, "persons": 40_000, "seconds": 30.0, "max_peak_rss_mb": 500.0},
            {"scale": 0.04, "persons": 160_000, "seconds": 90.0, "max_peak_rss_mb": 600.0},
        ],
        "flatness": {
            "ratio_4x_over_1x": 1.2,
            "threshold": 1.25,
            "flat": True,
            "verdict": "flat",
            "stage_growth_4x_over_1x": {"ingest:person:full": 1.4},
        },
    }
    part = report._part("ok", scale=run, series=series)
    text = report.render_city(part)
    assert "| delivery | person | incremental | 40,000 | 12.5 | 9.00 | 2,100 |" in text
    assert "end to end 1000.0 s" in text and "stages growing: ingest:person:full ×1.4" in text
    rows = report._summary_targets({"city": part})
    assert [r[-1] for r in rows] == ["**MISS**", "**MISS**", "**PASS**"]


def test_a_failed_side_is_listed_and_misses_the_targets() -> None:
    runs = [r for r in _runs() if not (r["case"] == "govhub" and r["phase"] == "incremental")]
    runs.append({"case": "govhub", "phase": "incremental", "error": "PipelineError: drift"})
    s = summarise(runs, rows=ROWS, changed=CHANGED)
    assert s["failed"] == [{"case": "govhub", "phase": "incremental", "error": "PipelineError: drift"}]
    assert s["targets"][-1] == {
        "target": "govhub full and incremental measured",
        "measured": "govhub did not complete: see the failures",
        "status": "MISS",
    }


def test_preload_imports_what_it_can(tmp_path: Path) -> None:
    import sys

    from bench.bench_peers import _preload

    listing = tmp_path / "modules.txt"
    listing.write_text("colorsys\nno_such_module_for_govhub\nbench.nothing\n__main__\n")
    sys.modules.pop("colorsys", None)
    assert _preload(listing) >= 0 and "colorsys" in sys.modules
