"""What a data admin asks first: per resource, the last run, its counts, the version and an honest health.

"Fresh" (及时) is said only of a resource that has a published version whose last successful ingest
did not throw away everything it read, within its update cycle. Otherwise the status says why:
never run, no published version yet, nothing accepted, overdue. A run in which the source refused
something (a settlement file) succeeded *with problems*. The CLI, the monitor and its alerts all
read `resource_statuses`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import utcnow
from govhub.models import IngestRun, ResourceState
from schemas import Contract, load_all

__all__ = [
    "FRESHNESS_LABELS",
    "OUTCOME_LABELS",
    "Freshness",
    "Health",
    "ResourceStatus",
    "assess_health",
    "refused",
    "resource_statuses",
    "run_outcome",
]

Freshness = Literal["fresh", "overdue", "never", "unpublished", "nothing_accepted"]
FRESHNESS_LABELS: dict[str, str] = {
    "fresh": "及时 fresh",
    "overdue": "已超期 overdue",
    "never": "从未采集 never",
    "unpublished": "尚无发布版本 unpublished",
    "nothing_accepted": "无一入库 nothing accepted",
}
OUTCOME_LABELS: dict[str, str] = {
    "succeeded": "成功 succeeded",
    "succeeded_with_problems": "成功但有问题 succeeded with problems",
    "failed": "失败 failed",
    "running": "运行中 running",
}


@dataclass(frozen=True)
class Health:
    """Freshness and the reasons a resource needs a look (each Chinese first, then English)."""

    freshness: Freshness
    overdue_by: timedelta | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def fresh(self) -> bool:
        return self.freshness == "fresh"


@dataclass(frozen=True)
class ResourceStatus:
    """One row of `govhub status` and of the monitor's overview."""

    resource: str
    title: str
    system: str
    last_run_id: str | None
    last_status: str | None  # succeeded, succeeded_with_problems, failed, running
    last_finished: datetime | None
    extracted: int | None
    accepted: int | None
    rejected: int | None
    version: int | None
    freshness: Freshness
    overdue_by: timedelta | None
    pending: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:  # SQLite hands back naive UTC
        return moment.replace(tzinfo=utcnow().tzinfo)
    return moment


def refused(run: IngestRun | None) -> list[dict[str, Any]]:
    """What the source refused in a run (error-severity source problems, e.g. settlement files)."""
    return [p for p in (run.problems or []) if p.get("severity", "error") == "error"] if run else []


def run_outcome(run: IngestRun | None) -> str | None:
    """The run's status, with `succeeded_with_problems` when it succeeded but the source refused something."""
    if run is None:
        return None
    return "succeeded_with_problems" if run.status == "succeeded" and refused(run) else run.status


def assess_health(
    contract: Contract,
    *,
    last_success: IngestRun | None,
    version: int | None,
    pending: int,
    now: datetime,
    promoted_since: int = 0,
) -> Health:
    """The resource's freshness and what needs a look, from its last successful ingest and its version.

    `promoted_since`: rows later rechecks or reprocessing published out of that ingest's pending rows.
    """
    reasons = []
    if pending:
        reasons.append(f"{pending} 条记录等待关联资源发布（待关联）— {pending} rows wait for a referenced resource")
    if last_success is None:
        return Health("never", None, ["从未成功采集 — never ingested successfully", *reasons])
    extracted, accepted = last_success.extracted or 0, last_success.accepted or 0
    if version is None:
        why = (
            f"尚无已发布版本：最近一次采集抽取 {extracted} 条、入库 {accepted} 条 — no published version yet "
            f"(last run extracted {extracted}, accepted {accepted})"
        )
        return Health("unpublished", None, [why, *reasons])
    if extracted and not accepted and not promoted_since:
        why = (
            f"最近一次采集抽取 {extracted} 条，无一入库（拒收 {last_success.rejected or 0}、待关联 "
            f"{last_success.pending or 0}）— the last run extracted {extracted} rows and accepted none"
        )
        return Health("nothing_accepted", None, [why, *reasons])
    days = contract.update_cycle_days
    finished = _aware(last_success.finished_at)
    if days is None or finished is None or now <= finished + timedelta(days=days):
        return Health("fresh", None, reasons)
    overdue = now - (finished + timedelta(days=days))
    why = f"超过更新周期（{contract.update_cycle}）{overdue.days} 天未成功采集 — overdue by {overdue.days} d"
    return Health("overdue", overdue, [why, *reasons])


def _problem_reason(problems: list[dict[str, Any]]) -> str:
    names = "、".join(f"{p.get('name')}（{p.get('reason')}）" for p in problems[:3])
    more = f" 等 {len(problems)} 个" if len(problems) > 3 else ""
    return f"源数据被拒收：{names}{more} — the source refused {len(problems)} item(s)"


def _promoted_since(session: Session, resource: str, run: IngestRun | None) -> int:
    """Rows rechecks and reprocessing runs published since `run` started."""
    if run is None:
        return 0
    accepted = session.scalars(
        select(IngestRun.accepted).where(
            IngestRun.resource == resource,
            IngestRun.kind != "ingest",
            IngestRun.status == "succeeded",
            IngestRun.started_at >= run.started_at,
        )
    )
    return sum(n or 0 for n in accepted)


def resource_statuses(session: Session, *, now: datetime | None = None) -> list[ResourceStatus]:
    """The status of every contract's resource, including those never run (rechecks are not ingests)."""
    now = now or utcnow()
    rows = []
    for name, contract in load_all().items():
        ingests = select(IngestRun).where(IngestRun.resource == name, IngestRun.kind == "ingest")
        last = session.scalars(ingests.order_by(IngestRun.started_at.desc())).first()
        last_success = session.scalars(
            ingests.where(IngestRun.status == "succeeded").order_by(IngestRun.finished_at.desc())
        ).first()
        state = session.get(ResourceState, name)
        version = state.last_version if state else None
        pending = (state.pending or 0) if state else 0
        promoted = _promoted_since(session, name, last_success)
        health = assess_health(
            contract, last_success=last_success, version=version, pending=pending, now=now, promoted_since=promoted
        )
        problems = refused(last)
        reasons = health.reasons + ([_problem_reason(problems)] if problems else [])
        if last is not None and last.status == "failed":
            reasons.insert(0, f"最近一次采集失败 — the last run failed: {(last.error or '')[:200]}")
        rows.append(
            ResourceStatus(
                resource=name,
                title=contract.title,
                system=contract.source.system,
                last_run_id=last.run_id if last else None,
                last_status=run_outcome(last),
                last_finished=_aware(last.finished_at) if last else None,
                extracted=last.extracted if last else None,
                accepted=last.accepted if last else None,
                rejected=last.rejected if last else None,
                version=version,
                freshness=health.freshness,
                overdue_by=health.overdue_by,
                pending=pending,
                problems=problems,
                reasons=reasons,
            )
        )
    return rows
