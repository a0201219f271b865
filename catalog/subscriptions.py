"""Subscriptions (共享申请) and their approval workflow under 国发〔2016〕51号.

无条件共享 resources are granted on application (masked); 有条件共享 ones, and any application for
unmasked personal information (`pii_access`) whatever the sharing type, wait for the provider
department, which must answer within 10 working days and give reasons when it refuses; 不予共享
ones are refused by rule. A grant can be revoked at any time and stops at the next delivery. Every step
is a `SubscriptionEvent` naming who and when. Deliveries (`exchange.delivery`) read
`granted_subscriptions`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from catalog.db import Base, utcnow
from catalog.delivery_targets import get_target
from catalog.departments import get_department
from catalog.errors import CatalogAccessDenied, CatalogError
from catalog.resources import Resource, ResourceItem, get_resource
from catalog.sharing_rules import check_statements, current_limits
from catalog.workdays import BEIJING, add_working_days

__all__ = [
    "ANSWER_WORKING_DAYS",
    "DELIVERY_MODES",
    "HUB_ADMIN",
    "SYSTEM_ACTOR",
    "DeliveryMode",
    "Subscription",
    "SubscriptionEvent",
    "SubscriptionStatus",
    "apply",
    "decide",
    "granted_subscriptions",
    "list_subscriptions",
    "overdue_applications",
    "pii_items",
    "revoke",
]

log = logging.getLogger(__name__)

DeliveryMode = Literal["file", "database", "api"]
SubscriptionStatus = Literal["pending", "granted", "refused", "revoked"]
DELIVERY_MODES: tuple[str, ...] = ("file", "database", "api")
ANSWER_WORKING_DAYS = 10  # the default only: the limit in force is current_limits() (ANSWER_SOURCE)
SYSTEM_ACTOR = "govhub"  # the hub itself, applying a sharing rule
HUB_ADMIN = "govhub-admin"  # the hub's data administrator: may revoke any grant (GB/T 39477)
_ACTIVE = ("pending", "granted")
# a five-field cron expression: minute hour day month weekday (digits, *, /, -, ,)
_CRON = re.compile(r"^\s*([\d*/,\-]+\s+){4}[\d*/,\-A-Za-z]+\s*$")


class Subscription(Base):
    """A department's application for (and, once granted, subscription to) a resource."""

    __tablename__ = "subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource: Mapped[str] = mapped_column(String(64), index=True)  # the contract's name, e.g. "person"
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text, nullable=True)  # 使用范围 (政务数据共享条例)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)  # 使用期限
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    pii_access: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_mode: Mapped[str] = mapped_column(String(16))
    target_name: Mapped[str | None] = mapped_column(String(64), nullable=True)  # database mode: a registered target
    schedule: Mapped[str] = mapped_column(String(64), default="on_publish")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refusal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)

    events: Mapped[list[SubscriptionEvent]] = relationship(
        back_populates="subscription", order_by="SubscriptionEvent.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"Subscription(#{self.id}, {self.department_code} -> {self.resource}, {self.status})"


class SubscriptionEvent(Base):
    """One step of a subscription's life: who did what, when, and why."""

    __tablename__ = "subscription_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscription.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    subscription: Mapped[Subscription] = relationship(back_populates="events")


def granted_subscriptions(session: Session, resource: str, *, now: datetime | None = None) -> list[Subscription]:
    """The subscriptions granted on a resource (its contract name) and within their term of use, oldest first.

    A grant whose stated term (`valid_until`, 使用期限, inclusive, Beijing date) has passed gets no
    further deliveries; it stays `granted` in the record (a new application renews it).
    """
    today = _now(now).astimezone(BEIJING).date()
    query = select(Subscription).where(Subscription.resource == resource, Subscription.status == "granted")
    query = query.where(Subscription.valid_until.is_(None) | (Subscription.valid_until >= today))
    return list(session.scalars(query.order_by(Subscription.id)))


def list_subscriptions(
    session: Session, *, department: str | None = None, status: SubscriptionStatus | None = None
) -> list[Subscription]:
    """Subscriptions a department applied for or must decide as provider (all when department is None)."""
    query = select(Subscription).order_by(Subscription.id)
    if status is not None:
        query = query.where(Subscription.status == status)
    if department is not None:
        provided = select(Resource.resource).where(Resource.provider_code == department)
        query = query.where((Subscription.department_code == department) | Subscription.resource.in_(provided))
    return list(session.scalars(query))


def apply(
    session: Session,
    *,
    department_code: str,
    resource: str,
    purpose: str,
    legal_basis: str,
    fields: Sequence[str],
    pii_access: bool = False,
    delivery_mode: DeliveryMode,
    target: str | None = None,
    schedule: str = "on_publish",
    scope: str | None = None,
    valid_until: date | None = None,
    strict: bool = False,
    now: datetime | None = None,
) -> Subscription:
    """A department applies for a resource; the sharing type decides what happens next.

    `resource` is the contract name or the catalogue code. `fields` must be items of the resource
    (the primary key is added when missing). The statements of 《政务数据共享条例》 are checked by
    `catalog.sharing_rules.check_statements`: purpose and legal basis always, `scope` (使用范围) and
    `valid_until` (使用期限) when `strict` (the API and CLI) or when given. 无条件共享 grants at once
    unless `pii_access` asks for unmasked personal information; that, and 有条件共享, wait for the
    provider (due in `current_limits().answer_working_days`); 不予共享 refuses by rule. Raises `CatalogError` for an
    unknown resource or field, a missing purpose or legal basis, a bad delivery mode, a target that
    is not one of the department's registered delivery targets, a bad schedule, or a duplicate
    active application; `AccessDenied` for an inactive department or
    one that provides the resource itself.
    """
    now = _now(now)
    department = get_department(session, department_code)
    entry = get_resource(session, resource)
    if not department.active:
        raise CatalogAccessDenied(
            f"department {department.code} ({department.name}) is inactive and cannot apply",
            message_zh=f"部门 {department.name} 已停用，不能提出共享申请",
            department=department.code,
        )
    if entry.provider_code == department.code:
        raise CatalogError(
            f"department {department.code} provides resource {entry.resource} itself; it needs no subscription",
            message_zh=f"{department.name} 是资源 {entry.name} 的提供部门，无需申请",
            resource=entry.resource,
        )
    check_statements(
        resource=entry.resource,
        purpose=purpose,
        legal_basis=legal_basis,
        scope=scope,
        valid_until=valid_until,
        today=now.astimezone(BEIJING).date(),
        strict=strict,
    )
    granted_fields = _check_fields(entry, fields)
    _check_delivery(session, department.code, delivery_mode, target, schedule)
    duplicate = session.scalars(
        select(Subscription).where(
            Subscription.department_code == department.code,
            Subscription.resource == entry.resource,
            Subscription.delivery_mode == delivery_mode,
            Subscription.status.in_(_ACTIVE),
        )
    ).first()
    if duplicate is not None:
        raise CatalogError(
            f"department {department.code} already has {duplicate.status} subscription #{duplicate.id} to "
            f"{entry.resource} by {delivery_mode}; revoke it before applying again",
            message_zh=f"已有同一资源、同一交付方式的申请 #{duplicate.id}（{duplicate.status}），请先撤销",
            kind="conflict",
            resource=entry.resource,
            subscription_id=duplicate.id,
        )
    sub = Subscription(
        resource=entry.resource,
        department_code=department.code,
        purpose=purpose.strip(),
        legal_basis=legal_basis.strip(),
        scope=scope.strip() if scope else None,
        valid_until=valid_until,
        fields=granted_fields,
        pii_access=pii_access,
        delivery_mode=delivery_mode,
        target_name=target,
        schedule=schedule,
        status="pending",
        applied_at=now,
        events=[],
    )
    session.add(sub)
    _event(sub, "applied", department.code, now, f"fields: {', '.join(granted_fields)}; pii_access={pii_access}")
    if entry.sharing_type == "无条件共享" and not pii_access:
        sub.status, sub.decided_at, sub.decided_by = "granted", now, SYSTEM_ACTOR
        _event(sub, "auto_granted", SYSTEM_ACTOR, now, "无条件共享: granted on application (国发〔2016〕51号)")
    elif entry.sharing_type == "不予共享":
        sub.status, sub.decided_at, sub.decided_by = "refused", now, SYSTEM_ACTOR
        sub.refusal_reason = f"不予共享 (国发〔2016〕51号): {entry.sharing_condition or 'not shared by law or policy'}"
        _event(sub, "auto_refused", SYSTEM_ACTOR, now, sub.refusal_reason)
    else:  # 有条件共享, or unmasked personal information asked of any resource: the provider decides
        sub.due_at = add_working_days(now, current_limits().answer_working_days)
        if entry.sharing_type == "无条件共享":
            named = ", ".join(f"{item.name} ({item.pii})" for item in pii_items(entry, granted_fields)) or "none"
            note = f"无条件共享 but unmasked personal information asked (pii fields: {named}): the provider decides"
            _event(sub, "provider_review", SYSTEM_ACTOR, now, note)
    session.flush()
    log.info("subscription #%s: %s applied for %s -> %s", sub.id, department.code, entry.resource, sub.status)
    return sub


def decide(
    session: Session,
    subscription_id: int,
    *,
    actor_department: str,
    approve: bool,
    reason: str | None = None,
    now: datetime | None = None,
) -> Subscription:
    """The provider department grants or refuses a pending application; a refusal needs reasons.

    Raises `AccessDenied` when `actor_department` does not provide the resource, `CatalogError`
    when the application is not pending (decided twice, revoked) or a refusal has no reason.
    """
    now = _now(now)
    sub = _get(session, subscription_id)
    entry = get_resource(session, sub.resource)
    if actor_department != entry.provider_code:
        raise CatalogAccessDenied(
            f"only the provider of {entry.resource} ({entry.provider_code} {entry.provider_name}) may decide "
            f"subscription #{sub.id}; department {actor_department} may not",
            message_zh=f"只有提供部门 {entry.provider_name} 可以审核申请 #{sub.id}",
            department=actor_department,
        )
    if sub.status != "pending":
        raise CatalogError(
            f"subscription #{sub.id} was already decided: it is {sub.status} (by {sub.decided_by or sub.revoked_by} "
            f"at {sub.decided_at or sub.revoked_at}); a decision is final, revoke a grant instead",
            message_zh=f"申请 #{sub.id} 已处理（{sub.status}），不能重复审核",
            kind="conflict",
            subscription_id=sub.id,
        )
    late = sub.due_at is not None and now > _aware(sub.due_at)
    note = (reason or "").strip() or None
    if late:
        note = f"{note or ''} [answered after the due date {_aware(sub.due_at).isoformat()}]".strip()
    if approve:
        sub.status = "granted"
        _event(sub, "granted", actor_department, now, note)
    else:
        if not reason or not reason.strip():
            raise CatalogError(
                f"refusing subscription #{sub.id} needs reasons (国发〔2016〕51号 requires the provider to explain "
                "a refusal); pass reason=...",
                message_zh="不予共享的答复必须说明理由",
                subscription_id=sub.id,
                field="reason",
            )
        sub.status = "refused"
        sub.refusal_reason = reason.strip()
        _event(sub, "refused", actor_department, now, note)
    sub.decided_at, sub.decided_by = now, actor_department
    session.flush()
    log.info("subscription #%s %s by %s", sub.id, sub.status, actor_department)
    return sub


def revoke(
    session: Session, subscription_id: int, *, actor: str, reason: str, now: datetime | None = None
) -> Subscription:
    """Withdraw a grant at once; deliveries stop from the next one.

    The provider department, the subscribing department itself or the hub administrator
    (`HUB_ADMIN`) may revoke; a reason is required.
    """
    now = _now(now)
    sub = _get(session, subscription_id)
    entry = get_resource(session, sub.resource)
    if actor not in (entry.provider_code, sub.department_code, HUB_ADMIN):
        raise CatalogAccessDenied(
            f"department {actor} may not revoke subscription #{sub.id}: only the provider ({entry.provider_code}), "
            f"the subscriber ({sub.department_code}) or {HUB_ADMIN} may",
            message_zh=f"无权撤销申请 #{sub.id}",
            department=actor,
        )
    if sub.status != "granted":
        raise CatalogError(
            f"subscription #{sub.id} is {sub.status}, not granted: only a grant can be revoked",
            message_zh=f"申请 #{sub.id} 当前状态为 {sub.status}，只有已授权的订阅可以撤销",
            kind="conflict",
            subscription_id=sub.id,
        )
    if not reason or not reason.strip():
        raise CatalogError(
            f"revoking subscription #{sub.id} needs a reason",
            message_zh="撤销授权必须说明理由",
            subscription_id=sub.id,
            field="reason",
        )
    sub.status, sub.revoked_at, sub.revoked_by = "revoked", now, actor
    _event(sub, "revoked", actor, now, reason.strip())
    session.flush()
    log.info("subscription #%s revoked by %s", sub.id, actor)
    return sub


def overdue_applications(session: Session, *, now: datetime | None = None) -> list[Subscription]:
    """Pending applications past their due date; each is flagged once with an `overdue` event."""
    now = _now(now)
    pending = session.scalars(
        select(Subscription).where(Subscription.status == "pending", Subscription.due_at.is_not(None))
    )
    overdue = [sub for sub in pending if _aware(sub.due_at) < now]
    for sub in overdue:
        if not any(event.action == "overdue" for event in sub.events):
            _event(sub, "overdue", SYSTEM_ACTOR, now, f"no answer by {_aware(sub.due_at).isoformat()}")
            log.warning("subscription #%s to %s is overdue (due %s)", sub.id, sub.resource, sub.due_at)
    session.flush()
    return overdue


def pii_items(entry: Resource, fields: Sequence[str]) -> list[ResourceItem]:
    """The personal-information items among `fields` (contract order): what `pii_access` would unmask."""
    wanted = set(fields)
    return [item for item in entry.items if item.name in wanted and item.pii != "none"]


def _get(session: Session, subscription_id: int) -> Subscription:
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise CatalogError(
            f"unknown subscription #{subscription_id}",
            message_zh=f"共享申请 #{subscription_id} 不存在",
            kind="not_found",
            subscription_id=subscription_id,
        )
    return sub


def _check_fields(entry: Resource, fields: Sequence[str]) -> list[str]:
    allowed = [item.name for item in entry.items]
    if isinstance(fields, str) or not fields:
        raise CatalogError(
            f"name the data items you need from {entry.resource}; allowed: {', '.join(allowed)}",
            message_zh=f"请列出所需的信息项，可选：{', '.join(item.label for item in entry.items)}",
            resource=entry.resource,
            field="fields",
        )
    unknown = [name for name in fields if name not in allowed]
    if unknown:
        raise CatalogError(
            f"resource {entry.resource} has no field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}",
            message_zh=f"资源 {entry.name} 没有信息项 {', '.join(unknown)}",
            resource=entry.resource,
            field=unknown[0],
        )
    wanted = set(fields) | set(entry.primary_key)
    return [name for name in allowed if name in wanted]  # contract order, primary key included


def _check_delivery(session: Session, department: str, delivery_mode: str, target: str | None, schedule: str) -> None:
    if delivery_mode not in DELIVERY_MODES:
        raise CatalogError(
            f"delivery_mode must be one of {', '.join(DELIVERY_MODES)}, got {delivery_mode!r}",
            message_zh="交付方式只能是 file、database 或 api",
            field="delivery_mode",
        )
    if delivery_mode == "database":
        if not target:
            raise CatalogError(
                "database delivery needs target: the name of one of your department's delivery targets, "
                "registered by the hub administrator (GET /api/targets lists them)",
                message_zh="库表交付必须指定本部门已登记的交付目标名称 target",
                field="target",
            )
        get_target(session, department, target)
    elif target:
        raise CatalogError(
            f"target names a database for database delivery; {delivery_mode} delivery takes none",
            message_zh="只有库表交付需要指定交付目标",
            field="target",
        )
    if schedule != "on_publish" and not _CRON.match(schedule):
        raise CatalogError(
            f"schedule must be 'on_publish' or a five-field cron expression, got {schedule!r}",
            message_zh="交付计划只能是 on_publish 或五段式 cron 表达式",
            field="schedule",
        )


def _event(sub: Subscription, action: str, actor: str, at: datetime, note: str | None) -> None:
    sub.events.append(SubscriptionEvent(action=action, actor=actor, at=at, note=note))


def _now(now: datetime | None) -> datetime:
    return _aware(now) if now is not None else utcnow()


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
