"""Run the reliability suite and print its figures.

    python -m tests.reliability [--long] [--record docs/reliability.md] [pytest args...]


The bounded form is what `make test-slow` runs too; `--long` multiplies every loop (more kill trials, more
generated inputs, more fuzzing, minutes of load). `--record` writes the figures as Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.reliability.ledger import (
    ATTACK_CLASSES,
    LEDGER_ENV,
    LONG_ENV,
    SECTIONS,
    Entry,
    class_totals,
    read_ledger,
    totals,
)

ROOT = Path(__file__).resolve().parents[2]


def _run_pytest(ledger: Path, long: bool, pytest_args: list[str]) -> int:
    env = {**os.environ, LEDGER_ENV: str(ledger), LONG_ENV: "1" if long else "0"}
    if long:
        env.setdefault("PYTEST_ADDOPTS", "")
        env["PYTEST_ADDOPTS"] += " -o timeout=3600"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability", *pytest_args]
    return subprocess.call(argv, cwd=ROOT, env=env)


def render(entries: list[Entry], *, long: bool, seconds: float, exit_code: int) -> str:
    """The figures as Markdown: one row per section, then every case's own figures."""
    sums = totals(entries)
    lost = sum(t["rows_lost"] for t in sums.values())
    failed = sum(t["failed"] for t in sums.values())
    lines = [
        f"Form: {'long' if long else 'bounded (as in CI)'}; run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on "
        f"{platform.node() or 'this machine'} ({os.cpu_count()} cores, Python {platform.python_version()}); "
        f"{seconds:.0f} s; pytest exit code {exit_code}.",
        "",
        "| section | tried | held | failed | rows lost | held means |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for section, (what, held_means) in SECTIONS.items():
        t = sums[section]
        counts = " | ".join(f"{t[k]:,}" for k in ("tried", "held", "failed", "rows_lost"))
        lines.append(f"| {what} | {counts} | {held_means} |")
    lines += ["", f"**Rows lost: {lost}.** Cases that did not hold: {failed}.", ""]
    classes = class_totals(entries)
    if classes:
        disclosed = sum(t["disclosures"] for t in classes.values())
        outside = sum(t["rows_outside"] for t in classes.values())
        lines += [
            "### Attack classes",
            "",
            "| class | cases | tried | held | disclosures | rows written outside the granted target |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, t in classes.items():
            counts = " | ".join(f"{t[k]:,}" for k in ("cases", "tried", "held", "disclosures", "rows_outside"))
            lines.append(f"| {ATTACK_CLASSES[name]} | {counts} |")
        lines += ["", f"**{disclosed} disclosures, {outside} rows written outside the granted target.**", ""]
    lines += ["### Cases", ""]
    lines += ["| section | case | tried | held | rows lost | figures |", "|---|---|---:|---:|---:|---|"]
    for e in sorted(entries, key=lambda e: (list(SECTIONS).index(e.section), e.case)):
        figures = ", ".join(f"{k}={v}" for k, v in e.figures.items())
        lines.append(f"| {e.section} | {e.case} | {e.tried:,} | {e.held:,} | {e.rows_lost:,} | {figures} |")
    return "\n".join(lines) + "\n"


def write_record(path: Path, report: str, *, long: bool) -> None:
    """Put the figures between this form's markers in `path`, keeping the rest of the file (or start one)."""
    form = "long" if long else "bounded"
    begin, end = f"<!-- reliability:{form}:begin -->", f"<!-- reliability:{form}:end -->"
    block = f"{begin}\n{report}{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability", description=__doc__)
    parser.add_argument("--long", action="store_true", help="the long form: bigger loops, minutes of load")
    parser.add_argument("--record", type=Path, help="also write the figures as Markdown to this file")
    args, pytest_args = parser.parse_known_args(argv)

    ledger = ROOT / ".govhub" / "reliability" / f"ledger-{int(time.time())}.jsonl"
    ledger.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    code = _run_pytest(ledger, args.long, pytest_args)
    report = render(read_ledger(ledger), long=args.long, seconds=time.perf_counter() - started, exit_code=code)
    print()
    print(report)
    if args.record:
        write_record(args.record, report, long=args.long)
        print(f"figures written to {args.record}")
    entries = read_ledger(ledger)
    lost = sum(t["rows_lost"] for t in totals(entries).values())
    leaked = sum(t["disclosures"] + t["rows_outside"] for t in class_totals(entries).values())
    return code or (1 if lost or leaked else 0)


if __name__ == "__main__":
    sys.exit(main())
