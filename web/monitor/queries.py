"""Read-only queries behind the monitor's pages and charts; every exchange query takes the viewer's filter."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from catalog import DatasetVersion, Department, Resource, Subscription, utcnow
from core.time import BEIJING
from exchange.delivery.models import Delivery
from exchange.log import ExchangeEvent, Rollup, refresh_rollups
from exchange.subjects import subject_hashes
from govhub.exchange_log import hub_subject_keys
from govhub.models import IngestRun
from govhub.status import resource_statuses
from schemas import load_all
from web.clock import beijing_iso
from web.monitor.auth import Viewer

__all__ = [
    "COUNT_CAP",
    "DIMENSIONS",
    "LogFilter",
    "LogPage",
    "as_aware",
    "deliveries",
    "department_names",
    "exchange_volume",
    "filter_events",
    "log_page",
    "overview_rows",
    "pending_applications",
    "quality_trend",
    "resource_names",
    "subscriptions",
]

DIMENSIONS = ("conformance", "completeness", "accuracy", "consistency", "timeliness", "accessibility")


def as_aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC datetimes; make them aware so they compare and format alike."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=utcnow().tzinfo)
    return moment


def filter_events(stmt: Select[Any], viewer: Viewer) -> Select[Any]:
    """Restrict an exchange-event query to what the viewer may see (a department: its own exchanges)."""
    if viewer.is_admin:
        return stmt
    return stmt.where(ExchangeEvent.department.in_(viewer.department_names or ("-",)))


def department_names(session: Session) -> dict[str, str]:
    """Department code -> name, to show names instead of 18-character codes."""
    return {code: name for code, name in session.execute(select(Department.code, Department.name))}


def client_names(session: Session) -> dict[str, str]:
    """Verification client id -> its name (不动产登记中心...), to show names instead of ids."""
    from exchange.verify.clients import VerificationClient

    return {cid: name for cid, name in session.execute(select(VerificationClient.id, VerificationClient.name))}


def overview_rows(session: Session, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per source system and resource: the last run, its counts, version, freshness and failure message."""
    rows = []
    for status in resource_statuses(session, now=now):
        row = asdict(status)
        row["overdue_hours"] = round(status.overdue_by.total_seconds() / 3600, 1) if status.overdue_by else None
        row.pop("overdue_by")
        row["error"] = None
        if status.last_status == "failed" and status.last_run_id:
            run = session.get(IngestRun, status.last_run_id)
            row["error"] = (run.error or "")[:300] if run else None
        rows.append(row)
    return sorted(rows, key=lambda r: (r["system"], r["resource"]))


def quality_trend(session: Session, resource: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Per resource, the six GB/T 36344 dimension scores of every published version, oldest first."""
    stmt = select(DatasetVersion).order_by(DatasetVersion.resource, DatasetVersion.version)
    if resource:
        stmt = stmt.where(DatasetVersion.resource == resource)
    trend: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for version in session.scalars(stmt):
        scores = {d.get("dimension"): d.get("score") for d in (version.scorecard or {}).get("dimensions", [])}
        trend[version.resource].append(
            {
                "version": version.version,
                "committed_at": beijing_iso(version.committed_at),
                "scores": {name: scores.get(name) for name in DIMENSIONS},
            }
        )
    return dict(trend)


def _label(moment: datetime, grain: str) -> str:
    moment = as_aware(moment).astimezone(BEIJING)
    return moment.strftime("%Y-%m-%d %H:00") if grain == "h" else moment.strftime("%Y-%m-%d")


def _rollup_rows(session: Session, viewer: Viewer, grain: str, since: datetime) -> list[Any]:
    stmt = (
        select(Rollup.bucket, Rollup.type, Rollup.source, Rollup.department, Rollup.client, func.sum(Rollup.events))
        .where(Rollup.grain == grain, Rollup.bucket >= _label(since, grain))
        .group_by(Rollup.bucket, Rollup.type, Rollup.source, Rollup.department, Rollup.client)
    )
    if not viewer.is_admin:
        stmt = stmt.where(Rollup.department.in_(viewer.department_names or ("-",)))
    return list(session.execute(stmt))


def exchange_volume(session: Session, viewer: Viewer, *, days: int = 30, now: datetime | None = None) -> dict[str, Any]:
    """Exchange counts over time, by source, by subscriber department and by verification client.

    Read from the hour/day rollups (`exchange.log.rollup`, brought up to date first), so a year is a
    few thousand rows whatever the log's size: daily buckets (Beijing days from the one holding
    `now - days`), hourly when the window's events fall on at most two days.
    """
    now = now or utcnow()
    since = now - timedelta(days=days)
    refresh_rollups(session.get_bind())
    rows = _rollup_rows(session, viewer, "d", since)
    hourly = len({r[0] for r in rows}) <= 2
    if hourly and rows:
        rows = _rollup_rows(session, viewer, "h", since)
    names = department_names(session)
    if not rows:
        return {"buckets": [], "by_source": {}, "by_department": {}, "by_client": {}, "totals": {}, "events": 0}
    series: dict[str, dict[str, Counter[str]]] = {
        "by_source": defaultdict(Counter),
        "by_department": defaultdict(Counter),
        "by_client": defaultdict(Counter),
    }
    buckets: set[str] = set()
    totals: Counter[str] = Counter()
    for bucket, kind, source, department, client, count in rows:
        count = int(count)
        buckets.add(bucket)
        totals[kind] += count
        if kind == "ingest":  # what each source system sent
            series["by_source"][source][bucket] += count
        if kind == "delivery" and department:
            series["by_department"][names.get(department, department)][bucket] += count
        if kind in ("verification", "denial") and client:
            series["by_client"][client][bucket] += count
    ordered = sorted(buckets)
    out: dict[str, Any] = {"buckets": ordered, "hourly": hourly, "totals": dict(totals), "events": sum(totals.values())}
    for key, groups in series.items():
        out[key] = {name: [counts.get(b, 0) for b in ordered] for name, counts in sorted(groups.items())}
    return out


COUNT_CAP = 10_000
"""A filtered log counts its matches up to this many ("more than 10,000"): counting millions costs seconds."""


@dataclass(frozen=True)
class LogFilter:
    """The exchange-log page's filters; empty strings mean no filter.

    `department` matches the department column (deliveries, refusals and API pulls name it there);
    `subject` is a citizen ID or company code, searched through its keyed hashes (every hub key);
    `address` a client address, matched on the target (`address:<ip>`, indexed): the refusals of callers
    without a valid key, whom only their address names (an authenticated caller's events name it instead).
    """

    type: str | None = None
    resource: str | None = None
    department: str | None = None
    client: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    case_number: str | None = None
    subject: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class LogPage:
    """One page of events newest first, the (capped) match count and the cursors to the neighbours."""

    events: list[ExchangeEvent]
    total: int
    capped: bool
    older: int | None  # pass as `before` for the next (older) page
    newer: int | None  # pass as `after` for the previous (newer) page


def _filtered(session: Session, viewer: Viewer, where: LogFilter) -> Select[Any]:
    stmt = select(ExchangeEvent)
    for column, value in (
        (ExchangeEvent.type, where.type),
        (ExchangeEvent.resource, where.resource),
        (ExchangeEvent.client, where.client),
        (ExchangeEvent.outcome, where.outcome),
        (ExchangeEvent.department, where.department),
        (ExchangeEvent.case_number, where.case_number),
    ):
        if value:
            stmt = stmt.where(column == value)
    if where.address and where.address.strip():
        stmt = stmt.where(ExchangeEvent.target == f"address:{where.address.strip()}"[:128])
    if where.subject:
        stmt = stmt.where(
            ExchangeEvent.subject_hash.in_(subject_hashes(where.subject.strip(), keys=hub_subject_keys()))
        )
    if where.since is not None:
        stmt = stmt.where(ExchangeEvent.recorded_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(ExchangeEvent.recorded_at < where.until)
    return filter_events(stmt, viewer)


def log_page(
    session: Session,
    viewer: Viewer,
    where: LogFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    oldest: bool = False,
    per_page: int = 50,
) -> LogPage:
    """One page of exchange events, newest first, by keyset on seq (no OFFSET: every page costs the same).

    `before`: events older than that seq (the next page); `after`: newer than that seq (the previous page);
    `oldest`: the last page. Every filter has a (column, seq) index, so a page is an index range scan.
    """
    stmt = _filtered(session, viewer, where)
    if after is not None or oldest:
        if after is not None:
            stmt = stmt.where(ExchangeEvent.seq > after)
        rows = list(session.scalars(stmt.order_by(ExchangeEvent.seq.asc()).limit(per_page)))[::-1]
    else:
        if before is not None:
            stmt = stmt.where(ExchangeEvent.seq < before)
        rows = list(session.scalars(stmt.order_by(ExchangeEvent.seq.desc()).limit(per_page)))
    base = _filtered(session, viewer, where).order_by(None)
    counted = select(func.count()).select_from(
        base.with_only_columns(ExchangeEvent.seq).limit(COUNT_CAP + 1).subquery()
    )
    total = int(session.scalar(counted) or 0)
    older = newer = None
    if rows:
        low, high = rows[-1].seq, rows[0].seq
        # ordered probes: an index seek next to the page; unordered, a partitioned table is scanned from its
        # oldest partition until a row qualifies (0.7 s at 1 M events on PostgreSQL)
        probe = base.with_only_columns(ExchangeEvent.seq)
        exists_older = session.scalar(probe.where(ExchangeEvent.seq < low).order_by(ExchangeEvent.seq.desc()).limit(1))
        exists_newer = session.scalar(probe.where(ExchangeEvent.seq > high).order_by(ExchangeEvent.seq).limit(1))
        older = low if exists_older is not None else None
        newer = high if exists_newer is not None else None
    return LogPage(rows, min(total, COUNT_CAP), total > COUNT_CAP, older, newer)


def pending_applications(session: Session, viewer: Viewer, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Applications waiting for a decision, oldest first, flagged when past their due date (read-only)."""
    now = now or utcnow()
    stmt = select(Subscription).where(Subscription.status == "pending").order_by(Subscription.applied_at)
    if not viewer.is_admin:
        provided = select(Resource.resource).where(Resource.provider_code == viewer.department_code)
        stmt = stmt.where(
            or_(Subscription.department_code == viewer.department_code, Subscription.resource.in_(provided))
        )
    names = department_names(session)
    out = []
    for sub in session.scalars(stmt):
        due = as_aware(sub.due_at)
        out.append(
            {
                "id": sub.id,
                "resource": sub.resource,
                "department": names.get(sub.department_code, sub.department_code),
                "department_code": sub.department_code,
                "purpose": sub.purpose,
                "mode": sub.delivery_mode,
                "applied_at": as_aware(sub.applied_at),
                "due_at": due,
                "overdue": bool(due and due < now),
            }
        )
    return out


def subscriptions(session: Session, viewer: Viewer) -> list[dict[str, Any]]:
    """Every subscription the viewer may see, newest first."""
    stmt = select(Subscription).order_by(Subscription.id.desc())
    if not viewer.is_admin:
        stmt = stmt.where(Subscription.department_code == viewer.department_code)
    names = department_names(session)
    return [
        {
            "id": s.id,
            "resource": s.resource,
            "department": names.get(s.department_code, s.department_code),
            "status": s.status,
            "mode": s.delivery_mode,
            "purpose": s.purpose,
            "applied_at": as_aware(s.applied_at),
        }
        for s in session.scalars(stmt)
    ]


def deliveries(session: Session, viewer: Viewer, *, limit: int = 50) -> list[dict[str, Any]]:
    """The most recent deliveries (a department: those it received and those of the data it provides)."""
    stmt = select(Delivery).order_by(Delivery.started_at.desc(), Delivery.id.desc()).limit(limit)
    if not viewer.is_admin:
        provided = select(Resource.resource).where(Resource.provider_code == viewer.department_code)
        stmt = stmt.where(or_(Delivery.department_code == viewer.department_code, Delivery.resource.in_(provided)))
    names = department_names(session)
    return [
        {
            "id": d.id,
            "resource": d.resource,
            "department": names.get(d.department_code, d.department_code),
            "from_version": d.from_version,
            "to_version": d.to_version,
            "mode": d.mode,
            "status": d.status,
            "rows": d.rows,
            "started_at": as_aware(d.started_at),
            "finished_at": as_aware(d.finished_at),
            "error": d.error,
        }
        for d in session.scalars(stmt)
    ]


def resource_names() -> list[str]:
    """The contracts' resource names, for filter menus."""
    return sorted(load_all())
