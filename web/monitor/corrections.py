"""The monitor's view of data corrections (校核纠错): flags with their age, outcomes per provider, overdue alerts.

An administrator sees every flag (record keys masked unless they hold `pii_viewer`); a department sees
the flags it raised (keys masked) and those on the data it provides (keys in clear: it holds the records).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from catalog import CorrectionFlag, Reporter, list_flags, utcnow
from catalog.correction_models import masked_key
from web.monitor.auth import Viewer
from web.monitor.i18n import label
from web.monitor.queries import as_aware, client_names, department_names

__all__ = ["correction_rows", "overdue_by_provider", "provider_summary"]

_STATES = ("open", "confirmed", "rejected", "closed")


def _viewer_flags(session: Session, viewer: Viewer) -> list[CorrectionFlag]:
    if viewer.is_admin:
        return list_flags(session)
    return list_flags(session, viewer=Reporter("department", viewer.department_code or "-"))


def _masked(key: str, viewer: Viewer, provider: str) -> str:
    """The record key in clear for its provider and a `pii_viewer` administrator; masked for the others."""
    if viewer.may_see_pii or (not viewer.is_admin and viewer.department_code == provider):
        return key
    return masked_key(key)


def correction_rows(session: Session, viewer: Viewer, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The viewer's flags, newest first, as table rows (names instead of codes)."""
    now = now or utcnow()
    departments, clients = department_names(session), client_names(session)
    rows = []
    for flag in reversed(_viewer_flags(session, viewer)):
        if flag.reporter_kind == "department":
            reporter = departments.get(flag.reporter, flag.reporter)
        elif flag.reporter_kind == "client":
            reporter = clients.get(flag.reporter, flag.reporter)
        else:
            reporter = f"{label('correction_admin')} {flag.reporter}"
        rows.append(
            {
                "id": flag.id,
                "resource": flag.resource,
                "field": flag.field,
                "record": _masked(flag.record_key, viewer, flag.provider_code),
                "reporter": reporter,
                "case_number": flag.case_number,
                "problem": flag.problem,
                "provider": departments.get(flag.provider_code, flag.provider_code),
                "provider_code": flag.provider_code,
                "status": flag.status,
                "raised_at": as_aware(flag.raised_at),
                "due_at": as_aware(flag.due_at),
                "overdue": flag.overdue(now),
                "age_days": round(flag.age_days(now), 1),
                "reason": flag.decision_reason,
                "closed_version": flag.closed_version,
                "closed_reason": flag.closed_reason,
            }
        )
    return rows


def provider_summary(session: Session, viewer: Viewer, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per providing department: flags by outcome, overdue ones, the oldest open flag's age in days."""
    now = now or utcnow()
    names = department_names(session)
    by_provider: dict[str, Counter[str]] = {}
    oldest: dict[str, float] = {}
    for flag in _viewer_flags(session, viewer):
        counts = by_provider.setdefault(flag.provider_code, Counter())
        counts[flag.status] += 1
        if flag.overdue(now):
            counts["overdue"] += 1
        if flag.status == "open":
            oldest[flag.provider_code] = max(oldest.get(flag.provider_code, 0.0), flag.age_days(now))
    return [
        {
            "provider": names.get(code, code),
            **{state: counts[state] for state in _STATES},
            "overdue": counts["overdue"],
            "oldest_open_days": round(oldest[code], 1) if code in oldest else None,
        }
        for code, counts in sorted(by_provider.items(), key=lambda item: names.get(item[0], item[0]))
    ]


def overdue_by_provider(session: Session, *, now: datetime | None = None) -> dict[str, list[CorrectionFlag]]:
    """Open flags past their due date, by providing department code (what the alerts list)."""
    now = now or utcnow()
    found: dict[str, list[CorrectionFlag]] = {}
    for flag in list_flags(session, status="open"):
        if flag.overdue(now):
            found.setdefault(flag.provider_code, []).append(flag)
    return found
