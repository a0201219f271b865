"""The Great Expectations results stored for every published version, read for the monitor in words.

The register stage keeps each version's GX suite result on its run's quality report
(`govhub.models.QualityReport.suite_result`, `quality.suite.SuiteResult`). Here they become rows a data
administrator reads: each expectation in Chinese, the field by its contract label, the rule's bounds, the
observed value and pass/fail. Values GX quotes (`partial_unexpected_list`, a text observed value) are
masked by the field's PII class, as the quarantine browser masks them (`web.monitor.redact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govhub.models import QualityReport
from schemas import load_all
from web.monitor.i18n import Lang, coded, field_label, label
from web.monitor.redact import mask_value

__all__ = ["StoredSuite", "expectation_rows", "failed_suites", "masked_result", "stored_suites", "suite_index"]


@dataclass(frozen=True)
class StoredSuite:
    """One version's stored suite result (PII masked) and the run that produced it."""

    resource: str
    version: int
    run_id: str
    validated_at: datetime
    success: bool
    result: dict[str, Any]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stored_suites(session: Session, resource: str | None = None, version: int | None = None) -> list[StoredSuite]:
    """Every version's stored suite result, oldest first (one resource, one version when given)."""
    stmt = (
        select(QualityReport)
        .where(QualityReport.suite_result.is_not(None), QualityReport.version.is_not(None))
        .order_by(QualityReport.resource, QualityReport.version, QualityReport.created_at)
    )
    if resource:
        stmt = stmt.where(QualityReport.resource == resource)
    if version is not None:
        stmt = stmt.where(QualityReport.version == version)
    return [
        StoredSuite(
            resource=report.resource,
            version=int(report.version),  # type: ignore[arg-type]
            run_id=report.run_id,
            validated_at=_aware(report.created_at),
            success=bool(report.suite_success),
            result=masked_result(report.resource, report.suite_result or {}),
        )
        for report in session.scalars(stmt)
    ]


def suite_index(session: Session) -> list[tuple[str, int, str, bool]]:
    """(resource, version, run id, success) of every stored suite result, without reading the results."""
    stmt = (
        select(QualityReport.resource, QualityReport.version, QualityReport.run_id, QualityReport.suite_success)
        .where(QualityReport.suite_result.is_not(None), QualityReport.version.is_not(None))
        .order_by(QualityReport.resource, QualityReport.version)
    )
    rows = session.execute(stmt)
    return [
        (resource, int(version or 0), run_id, bool(ok)) for resource, version, run_id, ok in rows
    ]  # version: not null


def failed_suites(session: Session) -> list[StoredSuite]:
    """The failed suite results of each resource's newest checked version (the increment's and the scheduled
    full check's, what the alerts list); reads only those."""
    newest: dict[str, int] = {}
    failed: set[tuple[str, int, str]] = set()
    for resource, version, run_id, ok in suite_index(session):
        newest[resource] = max(version, newest.get(resource, version))
        if not ok:
            failed.add((resource, version, run_id))
    return [
        suite
        for resource, version in sorted(newest.items())
        if any(f[0] == resource and f[1] == version for f in failed)
        for suite in stored_suites(session, resource, version)
        if not suite.success
    ]


def _pii_classes(resource: str) -> dict[str, str]:
    contract = load_all().get(resource)
    return {f.name: f.pii for f in contract.fields} if contract else {}


def _mask(value: Any, columns: list[str], classes: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, [k], classes) for k, v in value.items()}
    if value in (None, "") or isinstance(value, bool | int | float):
        return value
    for name in columns:
        if classes.get(name, "none") != "none":
            return mask_value(value, pii=classes[name], name=name)
    return value


def masked_result(resource: str, result: dict[str, Any]) -> dict[str, Any]:
    """A stored suite result with the values it quotes masked by their fields' PII classes."""
    classes = _pii_classes(resource)
    out = []
    for item in result.get("results") or []:
        kwargs = item.get("kwargs") or {}
        columns = [kwargs["column"]] if "column" in kwargs else list(kwargs.get("column_list") or [])
        raw = dict(item.get("result") or {})
        if "partial_unexpected_list" in raw:
            raw["partial_unexpected_list"] = [_mask(v, columns, classes) for v in raw["partial_unexpected_list"]]
        if isinstance(raw.get("observed_value"), str):
            raw["observed_value"] = _mask(raw["observed_value"], columns, classes)
        out.append({**item, "result": raw})
    return {**result, "results": out}


def _bounds(kwargs: dict[str, Any], lang: Lang) -> str:
    """The expectation's rule in words: the allowed range, the code set's size, the share that must hold."""
    parts = []
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None or high is not None:
        parts.append(label("gx_between", lang, low="—" if low is None else low, high="—" if high is None else high))
    if kwargs.get("value_set") is not None:
        parts.append(label("gx_value_set", lang, n=len(kwargs["value_set"])))
    if kwargs.get("mostly") is not None:
        parts.append(label("gx_mostly", lang, share=f"{float(kwargs['mostly']) * 100:.1f}%"))
    return "；".join(parts) if lang == "zh" else "; ".join(parts)


def _observed(result: dict[str, Any], lang: Lang) -> str:
    if "observed_value" in result:
        return str(result["observed_value"])
    if "element_count" in result:
        unexpected = result.get("unexpected_count") or 0
        share = float(result.get("unexpected_percent") or 0.0)
        return label("gx_unexpected", lang, bad=unexpected, total=result["element_count"], share=f"{share:.2f}%")
    return "—"


def expectation_rows(suite: StoredSuite, lang: Lang) -> list[dict[str, Any]]:
    """Each expectation of a stored suite result as a table row: what, on which field, rule, observed, pass."""
    rows = []
    for item in suite.result.get("results") or []:
        kind = str(item.get("expectation") or "")
        kwargs = item.get("kwargs") or {}
        columns = [kwargs["column"]] if "column" in kwargs else list(kwargs.get("column_list") or [])
        result = item.get("result") or {}
        rows.append(
            {
                "expectation": kind,
                "name": coded("gx", kind, lang),
                "fields": "、".join(field_label(suite.resource, c, lang) for c in columns) if columns else "—",
                "rule": _bounds(kwargs, lang),
                "severity": item.get("severity") or "critical",
                "observed": _observed(result, lang),
                "examples": [str(v) for v in (result.get("partial_unexpected_list") or [])[:5]],
                "success": bool(item.get("success")),
                "exception": item.get("exception"),
            }
        )
    return rows
