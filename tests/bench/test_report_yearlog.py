"""The year-log part of `make bench`: saved phase outputs render a table and the four targets honestly."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report_yearlog import load_results, render_yearlog, yearlog_targets


def _saved(tmp_path: Path, events: int, **figures: object) -> Path:
    path = tmp_path / f"sqlite-{events}.jsonl"
    lines = [
        json.dumps({"db": "sqlite", "events": events, "generate_s": 10.0}),
        "some log line",
        json.dumps({"overview": 0.12, "alerts_api": 0.3, "alerts_page": 0.4, "log_first": 0.2, **figures}),
        json.dumps({"verify_events_per_s": 120_000, "verify_events_per_s_runs": [110_000, 120_000, 130_000]}),
        json.dumps({"archive_peak_rss_mb": 350, "archived": 500_000}),
    ]
    path.write_text("\n".join(lines))
    return path


def test_targets_pass_only_when_measured_at_30_million(tmp_path: Path) -> None:
    small = load_results([_saved(tmp_path, 1_000_000)])
    rows = {row[1]: row for row in yearlog_targets(small)}
    assert rows["monitor: every page < 1 s at 30 M events"][3] == "**MISS**"  # fast, but not measured at 30 M
    assert "30 M not timed" in rows["alerts < 1 s"][2]
    assert rows["log verify ≥ 100,000 events/s"][3] == "**PASS**"
    assert rows["archive peak RSS < 500 MB"][2] == "sqlite 1 M 350 MB"
    big = load_results([_saved(tmp_path, 30_000_000, log_last_page=1.4)])
    rows = {row[1]: row for row in yearlog_targets(big)}
    assert rows["monitor: every page < 1 s at 30 M events"][3] == "**MISS**"  # the oldest page took 1.4 s
    assert rows["alerts < 1 s"][3] == "**PASS**"


def test_a_30_million_log_generated_but_not_timed_passes_nothing(tmp_path: Path) -> None:
    generated_only = tmp_path / "sqlite-30m.jsonl"
    generated_only.write_text(json.dumps({"db": "sqlite", "events": 30_000_000, "generate_s": 4456.6}) + "\n")
    part = load_results([_saved(tmp_path, 10_000_000), generated_only])
    rows = {row[1]: row for row in yearlog_targets(part)}
    for target in ("monitor: every page < 1 s at 30 M events", "alerts < 1 s"):
        assert rows[target][3] == "**MISS**", target  # the 10 M pages were fast, the 30 M ones never timed
        assert "largest size timed 10,000,000; 30 M not timed" in rows[target][2]
    assert "sqlite 30 M" not in rows["alerts < 1 s"][2]


def test_the_table_has_one_column_per_database_and_size(tmp_path: Path) -> None:
    part = load_results([_saved(tmp_path, 5_000_000), _saved(tmp_path, 1_000_000)])
    table = render_yearlog(part)
    assert table.splitlines()[0] == "| measure | sqlite 1,000,000 | sqlite 5,000,000 |"
    assert "| **every page and API, max (s)** | **0.400** | **0.400** |" in table
