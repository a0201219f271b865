"""Sharing disputes (共享争议): a department whose application was refused, or left unanswered past
its due date, escalates it to the sharing authority (the hub's administrators, `HUB_ADMIN`), which
decides within its own time limit (`SharingLimits.dispute_working_days`, 《政务数据共享条例》).

Only the applying department may escalate, once per application (a decision is final); only
`HUB_ADMIN` decides, with reasons. Granting on dispute grants the subscription; upholding keeps (or,
for an unanswered application, makes) it refused. Every step is also a `SubscriptionEvent`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from catalog.db import Base
from catalog.errors import CatalogAccessDenied, CatalogError
from catalog.sharing_rules import DISPUTE_SOURCE, current_limits
from catalog.subscriptions import HUB_ADMIN, SYSTEM_ACTOR, Subscription, _aware, _event, _get, _now
from catalog.workdays import add_working_days

__all__ = [
    "DisputeOutcome",
    "SharingDispute",
    "decide_dispute",
    "escalate",
    "get_dispute",
    "list_disputes",
    "overdue_disputes",
]

log = logging.getLogger(__name__)

DisputeOutcome = Literal["granted", "upheld"]


class SharingDispute(Base):
    """One escalation of an application to the sharing authority, and its decision."""

    __tablename__ = "sharing_dispute"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscription.id", ondelete="CASCADE"), index=True)
    raised_by: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    grounds: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open / granted / upheld
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    subscription: Mapped[Subscription] = relationship()

    def overdue(self, now: datetime | None = None) -> bool:
        """Still open after its due date."""
        return self.status == "open" and _aware(self.due_at) < _now(now)


def escalate(
    session: Session, subscription_id: int, *, actor_department: str, grounds: str, now: datetime | None = None
) -> SharingDispute:
    """The applying department takes a refused (or overdue, unanswered) application to the authority.

    Raises `AccessDenied` when `actor_department` is not the applicant; `CatalogError` when grounds
    are missing, the application is neither refused nor overdue, or a dispute on it is still open.
    """
    now = _now(now)
    sub = _get(session, subscription_id)
    if actor_department != sub.department_code:
        raise CatalogAccessDenied(
            f"only the applying department ({sub.department_code}) may escalate application #{sub.id}; "
            f"department {actor_department} may not",
            message_zh=f"只有申请部门可以就申请 #{sub.id} 提请协调",
            department=actor_department,
        )
    if not grounds or not grounds.strip():
        raise CatalogError(
            f"escalating application #{sub.id} needs grounds: say why the data is needed despite the answer",
            message_zh="提请协调必须说明理由（grounds）",
            subscription_id=sub.id,
            field="grounds",
        )
    unanswered = sub.status == "pending" and sub.due_at is not None and _aware(sub.due_at) < now
    if sub.status != "refused" and not unanswered:
        raise CatalogError(
            f"application #{sub.id} is {sub.status}: only a refused application, or one unanswered after its "
            "due date, can be escalated",
            message_zh=f"申请 #{sub.id} 当前状态为 {sub.status}，只有被拒绝或逾期未答复的申请可以提请协调",
            kind="conflict",
            subscription_id=sub.id,
        )
    earlier = session.scalars(select(SharingDispute).where(SharingDispute.subscription_id == sub.id)).first()
    if earlier is not None:
        state = (
            "still open: wait for its decision" if earlier.status == "open" else f"decided ({earlier.status}), final"
        )
        raise CatalogError(
            f"application #{sub.id} already has dispute #{earlier.id}, {state}; apply again with new facts instead",
            message_zh=f"申请 #{sub.id} 已有协调 #{earlier.id}（{earlier.status}），不能重复提请",
            kind="conflict",
            subscription_id=sub.id,
        )
    days = current_limits().dispute_working_days
    dispute = SharingDispute(
        subscription_id=sub.id,
        raised_by=actor_department,
        raised_at=now,
        grounds=grounds.strip(),
        due_at=add_working_days(now, days),
        status="open",
    )
    session.add(dispute)
    _event(
        sub,
        "escalated",
        actor_department,
        now,
        f"{grounds.strip()} [decision due in {days} working days: {DISPUTE_SOURCE}]",
    )
    session.flush()
    log.info("application #%s escalated by %s as dispute #%s", sub.id, actor_department, dispute.id)
    return dispute


def decide_dispute(
    session: Session,
    dispute_id: int,
    *,
    actor: str,
    outcome: DisputeOutcome,
    reason: str,
    now: datetime | None = None,
) -> SharingDispute:
    """The sharing authority (`HUB_ADMIN`) grants the application or upholds the refusal, with reasons."""
    now = _now(now)
    dispute = get_dispute(session, dispute_id)
    if actor != HUB_ADMIN:
        raise CatalogAccessDenied(
            f"only the sharing authority ({HUB_ADMIN}) decides dispute #{dispute.id}; {actor} may not",
            message_zh=f"只有共享主管部门（{HUB_ADMIN}）可以处理协调 #{dispute.id}",
            department=actor,
        )
    if outcome not in ("granted", "upheld"):
        raise CatalogError(
            f"outcome must be 'granted' or 'upheld', got {outcome!r}",
            message_zh="处理结果只能是 granted（准予共享）或 upheld（维持不予共享）",
            field="outcome",
        )
    if not reason or not reason.strip():
        raise CatalogError(
            f"deciding dispute #{dispute.id} needs reasons",
            message_zh="协调处理决定必须说明理由",
            field="reason",
        )
    if dispute.status != "open":
        raise CatalogError(
            f"dispute #{dispute.id} was already decided ({dispute.status} by {dispute.decided_by})",
            message_zh=f"协调 #{dispute.id} 已处理（{dispute.status}），不能重复处理",
            kind="conflict",
        )
    sub = dispute.subscription
    _check_decidable(session, dispute, sub, outcome)
    late = _aware(dispute.due_at) < now
    note = reason.strip() + (f" [decided after the due date {_aware(dispute.due_at).isoformat()}]" if late else "")
    dispute.status, dispute.decided_by, dispute.decided_at, dispute.decision_reason = (
        outcome,
        actor,
        now,
        reason.strip(),
    )
    if outcome == "granted":
        sub.status, sub.refusal_reason = "granted", None
        _event(sub, "granted_on_dispute", actor, now, note)
    else:
        if sub.status == "pending":
            sub.refusal_reason = f"upheld on dispute #{dispute.id}: {reason.strip()}"
        sub.status = "refused"
        _event(sub, "refusal_upheld", actor, now, note)
    sub.decided_at, sub.decided_by = now, actor
    session.flush()
    log.info("dispute #%s on application #%s: %s by %s", dispute.id, sub.id, outcome, actor)
    return dispute


def _check_decidable(session: Session, dispute: SharingDispute, sub: Subscription, outcome: str) -> None:
    """Refuse a decision the catalogue or the application's present state does not allow."""
    from catalog.resources import get_resource

    entry = get_resource(session, sub.resource)
    if outcome == "granted" and entry.sharing_type == "不予共享":
        raise CatalogError(
            f"resource {entry.resource} is classified 不予共享 in the catalogue; a dispute cannot grant it: change "
            "the contract's sharing type (with its legal basis) first, or uphold the refusal",
            message_zh=f"资源 {entry.name} 在目录中为不予共享，协调不能准予共享；请先依法调整共享类型，或维持不予共享",
            kind="conflict",
            subscription_id=sub.id,
        )
    if sub.status == "revoked" or (sub.status == "granted" and outcome == "upheld"):
        raise CatalogError(
            f"application #{sub.id} is now {sub.status} (since the dispute was raised); "
            + ("revoke the grant instead of upholding a refusal" if sub.status == "granted" else "nothing to decide"),
            message_zh=f"申请 #{sub.id} 当前状态为 {sub.status}，不能维持不予共享",
            kind="conflict",
            subscription_id=sub.id,
        )


def get_dispute(session: Session, dispute_id: int) -> SharingDispute:
    """One dispute by id; `CatalogError(not_found)` when unknown."""
    dispute = session.get(SharingDispute, dispute_id)
    if dispute is None:
        raise CatalogError(f"unknown dispute #{dispute_id}", message_zh=f"协调 #{dispute_id} 不存在", kind="not_found")
    return dispute


def list_disputes(
    session: Session, *, department: str | None = None, status: str | None = None
) -> list[SharingDispute]:
    """Disputes raised by or against `department` (all when None), oldest first."""
    from catalog.resources import Resource

    query = select(SharingDispute).join(Subscription).order_by(SharingDispute.id)
    if status is not None:
        query = query.where(SharingDispute.status == status)
    if department is not None:
        provided = select(Resource.resource).where(Resource.provider_code == department)
        query = query.where((Subscription.department_code == department) | Subscription.resource.in_(provided))
    return list(session.scalars(query))


def overdue_disputes(session: Session, *, now: datetime | None = None) -> list[SharingDispute]:
    """Open disputes past their due date; each is flagged once with a `dispute_overdue` event."""
    now = _now(now)
    overdue = [d for d in list_disputes(session, status="open") if d.overdue(now)]
    for dispute in overdue:
        sub = dispute.subscription
        if not any(e.action == "dispute_overdue" and f"#{dispute.id}" in (e.note or "") for e in sub.events):
            _event(
                sub,
                "dispute_overdue",
                SYSTEM_ACTOR,
                now,
                f"dispute #{dispute.id} undecided by {_aware(dispute.due_at).isoformat()}",
            )
    session.flush()
    return overdue
