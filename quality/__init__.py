"""Data quality: national code validators, contract suites, row-level verdicts, scorecards."""

from quality.dataset_suite import run_dataset_suite
from quality.pending import expired_reason, rebuild_batch, split_pending
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
    "expired_reason",
    "quarantine_all",
    "rebuild_batch",
    "run_dataset_suite",
    "run_suite",
    "split_pending",
    "validate",
]
