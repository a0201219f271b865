"""Sharing disputes on the monitor: open ones with their age and working-day countdown, and decisions.

Read-only (unlike `catalog.overdue_disputes`, which flags each overdue dispute in its application's
history): a page view changes nothing. A department sees the disputes it raised and those about the
resources it provides, as the API shows them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from catalog import list_disputes, utcnow, working_days_left
from web.monitor.auth import Viewer
from web.monitor.queries import as_aware, department_names

__all__ = ["dispute_rows", "overdue_dispute_rows"]

DECIDED_SHOWN = 20


def _row(dispute: Any, names: dict[str, str], now: datetime) -> dict[str, Any]:
    raised, due = as_aware(dispute.raised_at), as_aware(dispute.due_at)
    assert raised is not None and due is not None
    open_ = dispute.status == "open"
    return {
        "id": dispute.id,
        "subscription_id": dispute.subscription_id,
        "resource": dispute.subscription.resource,
        "raised_by": names.get(dispute.raised_by, dispute.raised_by),
        "grounds": dispute.grounds,
        "raised_at": raised,
        "age_days": max(0, (now - raised).days),
        "due_at": due,
        "working_days_left": working_days_left(now, due) if open_ else None,
        "overdue": open_ and due < now,
        "status": dispute.status,
        "decided_by": dispute.decided_by,
        "decided_at": as_aware(dispute.decided_at),
        "decision_reason": dispute.decision_reason,
    }


def dispute_rows(session: Session, viewer: Viewer, *, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """`open` (oldest first, overdue flagged) and `decided` (the newest `DECIDED_SHOWN`) disputes the viewer may see."""
    now = now or utcnow()
    names = department_names(session)
    visible = list_disputes(session, department=None if viewer.is_admin else viewer.department_code)
    rows = [_row(d, names, now) for d in visible]
    decided = sorted((r for r in rows if r["status"] != "open"), key=lambda r: r["decided_at"] or now, reverse=True)
    return {"open": [r for r in rows if r["status"] == "open"], "decided": decided[:DECIDED_SHOWN]}


def overdue_dispute_rows(session: Session, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Open disputes past their due date (for the alerts), oldest first."""
    now = now or utcnow()
    names = department_names(session)
    return [_row(d, names, now) for d in list_disputes(session, status="open") if d.overdue(now)]
