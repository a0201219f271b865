"""Subscriptions (共享申请) API: apply, list, decide (provider department), revoke.

The caller is the department of its X-API-Key. A department sees the applications it made and
those made for the resources it provides (pending ones await its decision; granted ones it may
revoke); anything else answers 404 as if it did not exist.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from catalog import (
    CatalogError,
    Department,
    Subscription,
    apply,
    decide,
    get_resource,
    list_subscriptions,
    pii_items,
    revoke,
)
from schemas import GovhubError
from web.auth import CurrentDepartment
from web.clock import BeijingTime
from web.deps import RowId, SessionDep
from web.masking import MaskingNoticePublic, masking_for
from web.problems import problem_from_error
from web.refusals import NotVisible

__all__ = [
    "PiiFieldPublic",
    "SubscriptionCreate",
    "SubscriptionDecision",
    "SubscriptionEventPublic",
    "SubscriptionPublic",
    "SubscriptionRevoke",
    "SubscriptionsPublic",
    "router",
]

router = APIRouter(prefix="/api/subscriptions", tags=["subscriptions 共享申请"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "请求体无法解析 — The body is not UTF-8 JSON"},
    401: {"description": "缺少或无效的 API 密钥 — Missing or invalid X-API-Key"},
    403: {"description": "无权操作 — The department may not do this"},
    404: {"description": "不存在 — Unknown resource or subscription, or not visible to this department"},
    409: {"description": "状态冲突 — Already decided, not granted, or a duplicate application"},
    422: {"description": "请求无效 — Invalid request: unknown fields, missing reasons, bad delivery target"},
}


class SubscriptionCreate(BaseModel):
    """An application for a resource (the applying department is the caller)."""

    resource: str = Field(min_length=1, max_length=64, description="资源 — resource code or contract name")
    purpose: str = Field(min_length=1, max_length=2000, description="用途 — what the data is for")
    legal_basis: str = Field(min_length=1, max_length=2000, description="依据 — the law or policy")
    scope: str | None = Field(default=None, max_length=2000, description="使用范围 — where and by whom (required)")
    valid_until: date | None = Field(default=None, description="使用期限 — last day of use, ISO date (required)")
    fields: list[str] = Field(
        min_length=1, max_length=200, description="信息项 — data items asked (the primary key is added)"
    )
    pii_access: bool = Field(
        default=False, description="未脱敏个人信息 — ask for unmasked personal information (the provider decides)"
    )
    delivery_mode: Literal["file", "database", "api"] = Field(description="交付方式 — file, database or api")
    target: str | None = Field(
        default=None,
        max_length=64,
        description="交付目标 — database mode: the name of one of the department's delivery targets "
        "(GET /api/targets), registered by the hub administrator",
    )
    target_url: str | None = Field(
        default=None, max_length=1000, deprecated=True, description="交付地址 — no longer accepted: name a `target`"
    )
    schedule: str = Field(default="on_publish", max_length=64, description="交付计划 — 'on_publish' or a 5-field cron")


class SubscriptionDecision(BaseModel):
    """The provider department's answer; a refusal must give reasons."""

    approve: bool = Field(description="答复 — true grants, false refuses")
    reason: str | None = Field(default=None, max_length=2000, description="理由 — required when refusing")


class SubscriptionRevoke(BaseModel):
    """Why a grant is withdrawn."""

    reason: str = Field(min_length=1, max_length=2000, description="理由 — why the grant is withdrawn")


class SubscriptionEventPublic(BaseModel):
    """One recorded step: who did what, when."""

    action: str
    actor: str
    at: BeijingTime
    note: str | None


class PiiFieldPublic(BaseModel):
    """A personal-information item the application asks for (from the contract)."""

    name: str
    label: str
    pii: str = Field(description="The contract's PII class: identifier, personal or sensitive")


class SubscriptionPublic(BaseModel):
    """An application and where it stands."""

    id: int
    resource: str
    resource_code: str
    department_code: str
    purpose: str
    legal_basis: str
    scope: str | None
    valid_until: date | None
    fields: list[str]
    pii_access: bool
    pii_fields: list[PiiFieldPublic] = Field(
        description="Personal-information items among `fields`: unmasked when `pii_access` is granted"
    )
    masked_fields: list[str] = Field(description="脱敏字段 — fields delivered masked: no PII access is asked")
    masking: MaskingNoticePublic | None = Field(
        description="脱敏说明 — which fields are masked, why, and how to ask for them (pii_access); null if none"
    )
    delivery_mode: str
    target: str | None = Field(description="Database mode: the delivery target's name (its connection is never shown)")
    schedule: str
    status: Literal["pending", "granted", "refused", "revoked"]
    applied_at: BeijingTime | None
    due_at: BeijingTime | None
    overdue: bool
    decided_at: BeijingTime | None
    decided_by: str | None
    refusal_reason: str | None
    revoked_at: BeijingTime | None
    revoked_by: str | None
    events: list[SubscriptionEventPublic]


class SubscriptionsPublic(BaseModel):
    """Subscriptions visible to the calling department."""

    data: list[SubscriptionPublic]
    count: int


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="提出共享申请 — apply for a resource",
    description="Apply for a resource as the calling department. 无条件共享 is granted at once (PII "
    "masked); 有条件共享, and `pii_access` on any resource, wait for the provider (answer due in 10 "
    "working days; the provider sees `pii_fields`, purpose and legal basis), 不予共享 is refused by rule.",
    responses=_ERRORS,
)
def create_subscription(
    body: SubscriptionCreate, session: SessionDep, department: CurrentDepartment
) -> SubscriptionPublic:
    if body.target_url is not None:
        raise problem_from_error(
            CatalogError(
                "target_url is no longer accepted: a department names one of its delivery targets (`target`), "
                "which the hub administrator registers; GET /api/targets lists yours",
                message_zh="不再接受 target_url：请填写本部门已登记的交付目标名称 target",
                field="target_url",
            )
        )
    try:
        sub = apply(
            session,
            department_code=department.code,
            resource=body.resource,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            scope=body.scope,
            valid_until=body.valid_until,
            strict=True,  # every statement of 《政务数据共享条例》 is required from a department
            fields=body.fields,
            pii_access=body.pii_access,
            delivery_mode=body.delivery_mode,
            target=body.target,
            schedule=body.schedule,
        )
        session.commit()
    except GovhubError as e:
        session.rollback()
        raise problem_from_error(e) from e
    return _public(session, sub)


@router.get(
    "",
    summary="共享申请列表 — list applications",
    description="The calling department's applications and those for the resources it provides. "
    "`role=applicant` or `role=provider` narrows the list; `status` filters it.",
    responses={401: _ERRORS[401]},
)
def read_subscriptions(
    session: SessionDep,
    department: CurrentDepartment,
    status_filter: Literal["pending", "granted", "refused", "revoked"] | None = Query(default=None, alias="status"),
    role: Literal["all", "applicant", "provider"] = Query(default="all"),
) -> SubscriptionsPublic:
    subs = list_subscriptions(session, department=department.code, status=status_filter)
    if role == "applicant":
        subs = [s for s in subs if s.department_code == department.code]
    elif role == "provider":
        subs = [s for s in subs if s.department_code != department.code]
    data = [_public(session, s) for s in subs]
    return SubscriptionsPublic(data=data, count=len(data))


@router.get(
    "/{subscription_id}",
    summary="共享申请详情 — one application",
    description="One visible application.",
    responses=_ERRORS,
)
def read_subscription(subscription_id: RowId, session: SessionDep, department: CurrentDepartment) -> SubscriptionPublic:
    return _public(session, _visible(session, subscription_id, department))


@router.post(
    "/{subscription_id}/decision",
    summary="答复共享申请 — grant or refuse an application",
    description="The provider department grants or refuses a pending application; a refusal needs `reason`. "
    "The applicant gets 403; deciding twice 409.",
    responses=_ERRORS,
)
def decide_subscription(
    subscription_id: RowId, body: SubscriptionDecision, session: SessionDep, department: CurrentDepartment
) -> SubscriptionPublic:
    _visible(session, subscription_id, department)
    try:
        sub = decide(
            session, subscription_id, actor_department=department.code, approve=body.approve, reason=body.reason
        )
        session.commit()
    except GovhubError as e:
        session.rollback()
        raise problem_from_error(e) from e
    return _public(session, sub)


@router.post(
    "/{subscription_id}/revoke",
    summary="撤销共享授权 — revoke a grant",
    description="Withdraw a grant (the provider or the subscribing department); deliveries stop from the next one.",
    responses=_ERRORS,
)
def revoke_subscription(
    subscription_id: RowId, body: SubscriptionRevoke, session: SessionDep, department: CurrentDepartment
) -> SubscriptionPublic:
    _visible(session, subscription_id, department)
    try:
        sub = revoke(session, subscription_id, actor=department.code, reason=body.reason)
        session.commit()
    except GovhubError as e:
        session.rollback()
        raise problem_from_error(e) from e
    return _public(session, sub)


def _visible(session: SessionDep, subscription_id: int, department: Department) -> Subscription:
    """The subscription if the department applied for it or provides its resource; 404 otherwise."""
    sub = session.get(Subscription, subscription_id)
    if sub is not None and (
        sub.department_code == department.code or get_resource(session, sub.resource).provider_code == department.code
    ):
        return sub
    error = problem_from_error(
        CatalogError(
            f"unknown subscription #{subscription_id}",
            message_zh=f"共享申请 #{subscription_id} 不存在",
            kind="not_found",
            subscription_id=subscription_id,
        )
    )
    raise error if sub is None else NotVisible(error.status_code, detail=error.detail)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _public(session: SessionDep, sub: Subscription) -> SubscriptionPublic:
    due = _aware(sub.due_at)
    entry = get_resource(session, sub.resource)
    masked, notice = masking_for(sub.resource, sub.fields, pii_access=sub.pii_access, subscription_id=sub.id)
    return SubscriptionPublic(
        id=sub.id,
        resource=sub.resource,
        resource_code=entry.code,
        department_code=sub.department_code,
        purpose=sub.purpose,
        legal_basis=sub.legal_basis,
        scope=sub.scope,
        valid_until=sub.valid_until,
        fields=list(sub.fields),
        pii_access=sub.pii_access,
        pii_fields=[PiiFieldPublic(name=i.name, label=i.label, pii=i.pii) for i in pii_items(entry, sub.fields)],
        masked_fields=masked,
        masking=notice,
        delivery_mode=sub.delivery_mode,
        target=sub.target_name,
        schedule=sub.schedule,
        status=sub.status,  # type: ignore[arg-type]
        applied_at=_aware(sub.applied_at),
        due_at=due,
        overdue=sub.status == "pending" and due is not None and due < datetime.now(UTC),
        decided_at=_aware(sub.decided_at),
        decided_by=sub.decided_by,
        refusal_reason=sub.refusal_reason,
        revoked_at=_aware(sub.revoked_at),
        revoked_by=sub.revoked_by,
        events=[
            SubscriptionEventPublic(action=e.action, actor=e.actor, at=_aware(e.at), note=e.note) for e in sub.events
        ],
    )
