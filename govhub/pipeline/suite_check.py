"""Which suite a run's increment gets, and the scheduled full Great Expectations check of a version.

Every increment gets the contract's dataset-level expectations (evaluated in Arrow, milliseconds);
an increment of `gx_full_suite_min_rows` live rows or more gets the full GX suite instead. The
scheduled check (`quality_suite` DAG, `govhub quality` callers) runs the full GX suite once per
curated version, on a deterministic sample of `gx_max_rows`, and stores it as a quality report of
its own: run id `<resource>-suite-<version>`, `suite_result.scope == "version"`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from govhub.db import session_scope
from govhub.models import QualityReport
from govhub.pipeline.resources import open_resource
from schemas import Contract

if TYPE_CHECKING:
    from quality import SuiteResult
    from quality.suite import Sampled

__all__ = ["check_version", "increment_suite", "version_report_id"]

log = logging.getLogger(__name__)


def increment_suite(increment: Sampled, contract: Contract, *, full_from: int) -> SuiteResult:
    """The suite result of an increment: full GX from `full_from` live rows, else the dataset-level part in Arrow."""
    if increment.total >= full_from:
        from quality import run_suite

        return run_suite(increment, contract)
    from quality import run_dataset_suite

    return run_dataset_suite(increment, contract)


def version_report_id(resource: str, version: int) -> str:
    """The quality-report id of the scheduled GX check of one curated version."""
    return f"{resource}-suite-{version:06d}"


def check_version(resource: str, *, version: int | None = None, again: bool = False) -> dict[str, Any]:
    """Run the full GX suite over a curated version (default: the current one) and store the result.

    A version already checked is skipped unless `again`; nothing is run before the first version.
    Returns what a caller prints or a DAG task hands on: resource, version, report id, success,
    skipped.
    """
    from quality import run_suite
    from quality.suite import sample_stream

    ctx = open_resource(resource)
    version = ctx.curated.version() if version is None else version
    outcome: dict[str, Any] = {"resource": resource, "version": version, "report": None, "success": None}
    if version is None:
        return {**outcome, "skipped": "nothing published yet"}
    report_id = version_report_id(resource, version)
    outcome["report"] = report_id
    with session_scope() as session:
        done = session.get(QualityReport, report_id)
        if done is not None and not again:
            return {**outcome, "success": done.suite_success, "skipped": "version already checked"}
    schema = ctx.curated_schema

    def open_reader(columns: list[str] | None) -> pa.RecordBatchReader:
        wanted = schema if columns is None else pa.schema([schema.field(name) for name in columns])
        return pa.RecordBatchReader.from_batches(wanted, ctx.curated.scan(version=version, columns=columns))

    rows = sample_stream(open_reader, max_rows=ctx.settings.gx_max_rows)
    suite = run_suite(rows, ctx.contract, scope="version")
    with session_scope() as session:
        session.merge(
            QualityReport(
                run_id=report_id,
                resource=resource,
                version=version,
                scorecard={},
                findings=[],
                suite_success=suite.success,
                suite_result=suite.to_dict(),
            )
        )
    log.info(
        "full suite of %s version %s: success=%s (%s of %s rows)",
        resource,
        version,
        suite.success,
        suite.evaluated_rows,
        suite.total_rows,
    )
    return {**outcome, "success": suite.success, "skipped": None}
