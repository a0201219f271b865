"""What a data admin asks first: per resource, the last run, its counts, the version and freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import utcnow
from govhub.models import IngestRun, ResourceState
from schemas import Contract, load_all

__all__ = ["ResourceStatus", "resource_statuses"]


@dataclass(frozen=True)
class ResourceStatus:
    """One row of `govhub status` and of the monitor's overview."""

    resource: str
    title: str
    system: str
    last_run_id: str | None
    last_status: str | None
    last_finished: datetime | None
    extracted: int | None
    accepted: int | None
    rejected: int | None
    version: int | None
    freshness: str  # fresh, overdue, never
    overdue_by: timedelta | None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:  # SQLite hands back naive UTC
        return moment.replace(tzinfo=utcnow().tzinfo)
    return moment


def _freshness(contract: Contract, last_success: datetime | None, now: datetime) -> tuple[str, timedelta | None]:
    if last_success is None:
        return "never", None
    days = contract.update_cycle_days
    if days is None:
        return "fresh", None
    due = last_success + timedelta(days=days)
    return ("fresh", None) if now <= due else ("overdue", now - due)


def resource_statuses(session: Session, *, now: datetime | None = None) -> list[ResourceStatus]:
    """The status of every contract's resource, including those never run."""
    now = now or utcnow()
    rows = []
    for name, contract in load_all().items():
        last = session.scalars(
            select(IngestRun).where(IngestRun.resource == name).order_by(IngestRun.started_at.desc())
        ).first()
        last_success = session.scalars(
            select(IngestRun.finished_at)
            .where(IngestRun.resource == name, IngestRun.status == "succeeded")
            .order_by(IngestRun.finished_at.desc())
        ).first()
        state = session.get(ResourceState, name)
        freshness, overdue_by = _freshness(contract, _aware(last_success), now)
        rows.append(
            ResourceStatus(
                resource=name,
                title=contract.title,
                system=contract.source.system,
                last_run_id=last.run_id if last else None,
                last_status=last.status if last else None,
                last_finished=_aware(last.finished_at) if last else None,
                extracted=last.extracted if last else None,
                accepted=last.accepted if last else None,
                rejected=last.rejected if last else None,
                version=state.last_version if state else None,
                freshness=freshness,
                overdue_by=overdue_by,
            )
        )
    return rows
