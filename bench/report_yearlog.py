"""The year-log part of `make bench`: `bench.bench_year_log` phase by phase, its table and its four targets.

Each phase runs as its own child (the archive's peak RSS is then its own); a phase prints its figures
as the last JSON line. Runs measured earlier (the 1 M / 5 M sizes take an hour here) are rendered from
their saved lines with `--year-log-results FILE ...` (one file per database and size, the phases'
JSON lines one after the other).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["PHASES", "load_results", "render_yearlog", "run_yearlog", "yearlog_targets"]

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("generate", "pages", "verify", "archive", "after")
PAGE_TARGET_S = 1.0
VERIFY_TARGET = 100_000
ARCHIVE_RSS_TARGET_MB = 500
TARGET_EVENTS = 30_000_000
_PAGES = (
    "overview",
    "exchanges_30d",
    "exchanges_366d",
    "log_first",
    "log_last_page",
    "log_department",
    "log_client",
    "log_case_number",
    "log_subject",
    "log_denied",
    "log_keyset_next_from_oldest",
    "sharing",
    "alerts_page",
    "alerts_api",
    "api_chain",
    "api_exchanges_366d",
)


def _merge(lines: list[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for line in lines:
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            figures.update(json.loads(line))
    return figures


def run_yearlog(events: int, dbs: list[str], *, timeout: float = 4 * 3600) -> dict[str, Any]:
    """Every phase of bench_year_log at `events` on each database; the merged figures of each."""
    runs, commands = [], []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for db in dbs:
        lines = []
        for phase in PHASES:
            argv = [sys.executable, "-m", "bench.bench_year_log", "--events", str(events), "--db", db, "--phase", phase]
            done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)
            if done.returncode:
                return {"status": "failed", "error": done.stderr[-2000:], "command": " ".join(argv[1:])}
            lines.append(done.stdout.strip().splitlines()[-1])
        commands.append(
            f"python -m bench.bench_year_log --events {events} --db {db} --phase <each of {','.join(PHASES)}>"
        )
        runs.append(_merge(lines))
    return {"status": "ok", "runs": runs, "command": " ; ".join(commands)}


def load_results(paths: list[Path]) -> dict[str, Any]:
    """The year-log part from saved phase outputs, one file per database and size."""
    runs = [_merge(path.read_text().splitlines()) for path in paths]
    return {"status": "ok", "runs": sorted(runs, key=lambda r: (r.get("db", ""), r.get("events", 0)))}


def _pages_max(run: dict[str, Any]) -> float | None:
    times = [run[name] for name in _PAGES if isinstance(run.get(name), int | float)]
    times += list(run.get("three_views_after_1500_new_events") or [])
    return max(times) if times else None


def _cell(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, list | tuple):
        return " / ".join(_cell(v) for v in value)
    if isinstance(value, float):
        return f"{value:,.3f}{unit}" if value < 10 else f"{value:,.1f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def render_yearlog(part: dict[str, Any]) -> str:
    """One column per database and size: generation, every page, verify, archive."""
    runs = part.get("runs", [])
    if not runs:
        return "_no year-log run_"
    heads = ["measure", *(r.get("label") or f"{r.get('db')} {r.get('events', 0):,}" for r in runs)]
    rows: list[list[str]] = []

    def row(label: str, key: str, unit: str = "") -> None:
        rows.append([label, *(_cell(r.get(key), unit) for r in runs)])

    row("load average at the start of the last phase (1/5/15 min)", "load_before")
    row("generate (s; bulk loader, the hub's hashes)", "generate_s")
    rows.append(
        [
            "first rollup / first check (s, once)",
            *(f"{_cell(r.get('first_rollup_s'))} / {_cell(r.get('first_check_s'))}" for r in runs),
        ]
    )
    for name in _PAGES:
        row(f"page `{name}` (s)", name)
    rows.append(
        [
            "three views at once after 1,500 new events (s)",
            *(_cell(r.get("three_views_after_1500_new_events")) for r in runs),
        ]
    )
    rows.append(["**every page and API, max (s)**", *(f"**{_cell(_pages_max(r))}**" for r in runs)])
    row("log verify, full walk: events/s (median of runs)", "verify_events_per_s")
    row("log verify: runs (events/s)", "verify_events_per_s_runs")
    row("log verify: events per CPU second of the walker (client side)", "verify_events_per_cpu_s")
    row("log verify: load average at each run", "verify_load_1min")
    if any("verify_sql_events_per_s_runs" in r for r in runs):  # PostgreSQL, `--verify-sql-repeat`
        row(
            "log verify, same run, the server rendering the JSON (SQL walk): runs (events/s)",
            "verify_sql_events_per_s_runs",
        )
        row("log verify, SQL walk: load average at each run", "verify_sql_load_1min")
    row("archive: events / files", "archived")
    row("archive (s)", "archive_s")
    row("archive peak RSS (MB)", "archive_peak_rss_mb")
    row("database bytes after generation", "db_bytes")
    row("database bytes after archive", "db_bytes_after_archive")
    row("verify across archives + live (s)", "verify_across_archives_s")
    row("verify across archives intact", "verify_across_archives_ok")
    return (
        "| "
        + " | ".join(heads)
        + " |\n|"
        + "---|" * len(heads)
        + "\n"
        + "\n".join("| " + " | ".join(r) + " |" for r in rows)
    )


def yearlog_targets(part: dict[str, Any]) -> list[list[str]]:
    """The four exchange-log targets, PASS only when measured at 30 M events (a smaller size says so)."""
    runs = [r for r in part.get("runs", []) if r.get("events")]
    if not runs:
        return []
    pages = [(_name(r), most) for r in runs if (most := _pages_max(r)) is not None]
    alerts = [
        (_name(r), max(r.get("alerts_api") or 0, r.get("alerts_page") or 0))
        for r in runs
        if "alerts_api" in r or "alerts_page" in r
    ]
    # the size that counts is the largest whose pages were timed, not the largest merely generated
    timed = [r["events"] for r in runs if _pages_max(r) is not None or "alerts_api" in r or "alerts_page" in r]
    largest = max(timed, default=0)
    scale = "" if largest >= TARGET_EVENTS else f" (largest size timed {largest:,}; 30 M not timed)"
    verify = [(_name(r), r.get("verify_events_per_s")) for r in runs if r.get("verify_events_per_s")]
    per_cpu = [(_name(r), r.get("verify_events_per_cpu_s")) for r in runs if r.get("verify_events_per_cpu_s")]
    loads = [v for r in runs for v in r.get("verify_load_1min") or []]
    load_text = f" at load {min(loads):g}–{max(loads):g}" if loads else ""
    rss = [(_name(r), r.get("archive_peak_rss_mb")) for r in runs if r.get("archive_peak_rss_mb")]
    out = []

    def figures(pairs: list[tuple[str, Any]], unit: str) -> str:
        return ", ".join(f"{db} {_cell(value)}{unit}" for db, value in pairs)

    at_30m = largest >= TARGET_EVENTS
    out.append(
        [
            "exchange log",
            "monitor: every page < 1 s at 30 M events",
            f"slowest median: {figures(pages, ' s')}{scale}",
            _pass(at_30m and all(v < PAGE_TARGET_S for _, v in pages)),
        ]
    )
    out.append(
        [
            "exchange log",
            "alerts < 1 s",
            f"{figures(alerts, ' s')}{scale}",
            _pass(at_30m and all(v < PAGE_TARGET_S for _, v in alerts)),
        ]
    )
    out.append(
        [
            "exchange log",
            "log verify ≥ 100,000 events/s",
            figures(verify, "/s")
            + f" (medians of the wall rate{load_text}); per CPU second of the walker's processes: "
            + figures(per_cpu, ""),
            _pass(bool(verify) and all(v >= VERIFY_TARGET for _, v in verify)),
        ]
    )
    out.append(
        [
            "exchange log",
            "archive peak RSS < 500 MB",
            figures(rss, " MB"),
            _pass(bool(rss) and all(v < ARCHIVE_RSS_TARGET_MB for _, v in rss)),
        ]
    )
    return out


def _name(run: dict[str, Any]) -> str:
    """A run's short name in the targets: its label, else database and size."""
    return str(run.get("label") or f"{run['db']} {run['events'] / 1e6:g} M")


def _pass(ok: bool) -> str:
    return "**PASS**" if ok else "**MISS**"
