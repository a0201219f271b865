"""What the reliability suite tried and how the hub held, one JSON line per case.

Each test calls `record(section, case, tried=..., held=..., rows_lost=...)` *before* asserting, so a
failing case still shows in the figures. `held` means: survived (crash, faults), quarantined or
refused with a reason (inputs), refused and logged (attacks), detected (tamper), served without error
(load). The ledger is a JSON-lines file named by GOVHUB_RELIABILITY_LEDGER (set by the summary
command; a temporary file per session otherwise), so subprocesses and pytest workers can append too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ATTACK_CLASSES",
    "LEDGER_ENV",
    "LONG_ENV",
    "SECTIONS",
    "Entry",
    "class_totals",
    "long_form",
    "read_ledger",
    "record",
    "scaled",
]

LEDGER_ENV = "GOVHUB_RELIABILITY_LEDGER"
LONG_ENV = "GOVHUB_RELIABILITY_LONG"

# section -> (what was tried, what "held" means), in report order
SECTIONS: dict[str, tuple[str, str]] = {
    "crash": ("SIGKILL trials (ingest and delivery)", "re-run equals a clean run"),
    "faults": ("source faults injected", "retried, refused or quarantined as documented"),
    "inputs": ("malformed records and files", "quarantined or refused with a reason"),
    "attacks": ("API attacks", "refused and logged, or answered harmlessly; nothing disclosed"),
    "tamper": ("tamperings", "detected"),
    "load": ("requests under sustained load", "answered without error"),
}


# attack class -> its label in the summary; an attack case names its class, what it disclosed (values
# a refused caller saw, or personal data an unprivileged one saw in clear) and rows written outside the
# target its subscription was granted (the hub's own stores, another department's database)
ATTACK_CLASSES: dict[str, str] = {
    "pii_without_decision": "authorization: PII without a decision",
    "target_hijack": "authorization: target hijack",
    "cross_department_target": "authorization: cross-department targets",
    "log_padding": "log padding",
    "brute_force": "brute force (monitor sign-in)",
    "monitor_session": "monitor sessions (login CSRF, kept cookies, framing)",
    "formula_injection": "formula injection (quarantine CSV)",
    "quarantine_pii": "PII in the quarantine browser",
    "tokens": "crafted page tokens",
}


@dataclass(frozen=True)
class Entry:
    """One case's tally: how many tries, how many held, rows lost, and any figures worth quoting."""

    section: str
    case: str
    tried: int
    held: int
    rows_lost: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    attack_class: str | None = None
    disclosures: int = 0
    rows_outside: int = 0


def long_form() -> bool:
    """True when the long form was asked for (`--long`, or GOVHUB_RELIABILITY_LONG=1)."""
    return os.environ.get(LONG_ENV, "") not in ("", "0", "false", "no")


def scaled(bounded: int, long: int) -> int:
    """The size of a loop: `bounded` in CI's default run, `long` in the long form."""
    return long if long_form() else bounded


def ledger_path() -> Path | None:
    value = os.environ.get(LEDGER_ENV)
    return Path(value) if value else None


def record(
    section: str,
    case: str,
    *,
    tried: int,
    held: int,
    rows_lost: int = 0,
    attack_class: str | None = None,
    disclosures: int = 0,
    rows_outside: int = 0,
    **figures: Any,
) -> Entry:
    """Append one case's tally to the ledger (a no-op without one) and return it.

    Attack cases may name their `attack_class` (`ATTACK_CLASSES`) with the `disclosures` and the
    `rows_outside` the granted target they found (both must be 0 for the case to hold).
    """
    if section not in SECTIONS:
        raise ValueError(f"unknown reliability section {section!r}; use one of {sorted(SECTIONS)}")
    if attack_class is not None and attack_class not in ATTACK_CLASSES:
        raise ValueError(f"unknown attack class {attack_class!r}; use one of {sorted(ATTACK_CLASSES)}")
    if not 0 <= held <= tried:
        raise ValueError(f"{section}/{case}: held={held} must lie between 0 and tried={tried}")
    entry = Entry(section, case, tried, held, rows_lost, dict(figures), attack_class, disclosures, rows_outside)
    path = ledger_path()
    if path is not None:
        line = json.dumps(entry.__dict__, ensure_ascii=False, default=str)
        with path.open("a", encoding="utf-8") as handle:  # one short write per line: appends don't interleave
            handle.write(line + "\n")
    return entry


def read_ledger(path: Path) -> list[Entry]:
    """Every entry in a ledger file, in the order written."""
    if not path.exists():
        return []
    return [Entry(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def class_totals(entries: Iterable[Entry]) -> Mapping[str, dict[str, int]]:
    """Per attack class that has cases: tried, held, disclosures, rows written outside the granted target."""
    out: dict[str, dict[str, int]] = {}
    for e in entries:
        if e.attack_class is None:
            continue
        t = out.setdefault(e.attack_class, {"cases": 0, "tried": 0, "held": 0, "disclosures": 0, "rows_outside": 0})
        t["cases"] += 1
        t["tried"] += e.tried
        t["held"] += e.held
        t["disclosures"] += e.disclosures
        t["rows_outside"] += e.rows_outside
    return {k: out[k] for k in ATTACK_CLASSES if k in out}


def totals(entries: Iterable[Entry]) -> Mapping[str, dict[str, int]]:
    """Per section: cases, tried, held, failed and rows lost."""
    out: dict[str, dict[str, int]] = {
        s: {"cases": 0, "tried": 0, "held": 0, "failed": 0, "rows_lost": 0} for s in SECTIONS
    }
    for e in entries:
        t = out[e.section]
        t["cases"] += 1
        t["tried"] += e.tried
        t["held"] += e.held
        t["failed"] += e.tried - e.held
        t["rows_lost"] += e.rows_lost
    return out
