"""Sharing disputes with the hub's settings applied and every step written to the exchange log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from catalog import SharingDispute, SharingLimits, configure_limits, decide_dispute, escalate
from catalog.disputes import DisputeOutcome
from exchange.log import EventType, ExchangeLog
from govhub.exchange_log import hub_log
from govhub.settings import get_settings

__all__ = ["apply_sharing_limits", "decide_logged", "escalate_logged"]


def apply_sharing_limits() -> SharingLimits:
    """Push GOVHUB_SHARING_*_WORKING_DAYS and GOVHUB_CORRECTION_ANSWER_WORKING_DAYS into the sharing rules."""
    settings = get_settings()
    return configure_limits(
        answer_working_days=settings.sharing_answer_working_days,
        dispute_working_days=settings.sharing_dispute_working_days,
        correction_working_days=settings.correction_answer_working_days,
    )


def escalate_logged(
    session: Session,
    subscription_id: int,
    *,
    actor_department: str,
    grounds: str,
    now: datetime | None = None,
    exchange_log: ExchangeLog | None = None,
) -> SharingDispute:
    """`catalog.escalate`, logged as a subscription event in the same transaction (hub log by default)."""
    apply_sharing_limits()
    dispute = escalate(session, subscription_id, actor_department=actor_department, grounds=grounds, now=now)
    (exchange_log or hub_log(session)).append(
        EventType.SUBSCRIPTION,
        source=f"department:{actor_department}",
        target="govhub-admin",
        resource=dispute.subscription.resource,
        department=actor_department,
        details={
            "action": "dispute_escalated",
            "dispute_id": dispute.id,
            "subscription_id": subscription_id,
            "due_at": dispute.due_at.isoformat(),
        },
    )
    return dispute


def decide_logged(
    session: Session,
    dispute_id: int,
    *,
    actor: str,
    outcome: DisputeOutcome,
    reason: str,
    now: datetime | None = None,
    exchange_log: ExchangeLog | None = None,
    decided_with: str | None = None,
) -> SharingDispute:
    """`catalog.decide_dispute`, logged as an admin event in the same transaction (hub log by default).

    `decided_with` names the admin API key (or `cli`) the decision came through, for the log.
    """
    dispute = decide_dispute(session, dispute_id, actor=actor, outcome=outcome, reason=reason, now=now)
    sub = dispute.subscription
    (exchange_log or hub_log(session)).append(
        EventType.ADMIN,
        source=actor,
        target=f"department:{sub.department_code}",
        resource=sub.resource,
        department=sub.department_code,
        details={
            "action": "dispute_decided",
            "dispute_id": dispute.id,
            "subscription_id": sub.id,
            "outcome": outcome,
            "reason": reason.strip()[:500],
            **({"decided_with": decided_with[:64]} if decided_with else {}),
        },
    )
    return dispute
