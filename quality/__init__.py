"""Data quality: national code validators, contract suites, row-level verdicts, scorecards."""

from quality.scorecard import DIMENSIONS, Scorecard
from quality.suite import SuiteResult, build_suite, run_suite
from quality.verdict import (
    QUARANTINE_COLUMNS,
    QUARANTINE_SCHEMA,
    Findings,
    Reason,
    Verdict,
    quarantine_all,
    validate,
)

__all__ = [
    "DIMENSIONS",
    "QUARANTINE_COLUMNS",
    "QUARANTINE_SCHEMA",
    "Findings",
    "Reason",
    "Scorecard",
    "SuiteResult",
    "Verdict",
    "build_suite",
    "quarantine_all",
    "run_suite",
    "validate",
]
