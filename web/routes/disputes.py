"""Sharing disputes (共享争议) API: the applying department escalates a refused or overdue application.

The sharing authority (the hub's administrators) decides with its admin API key
(`POST /api/disputes/{id}/decide`, header `X-Admin-Key`) or `govhub dispute decide`; departments see
the disputes they raised and those about the resources they provide, with the decision.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from catalog import HUB_ADMIN, CatalogError, Department, SharingDispute, get_dispute, get_resource, list_disputes
from exchange.log import ExchangeLog
from govhub.sharing_disputes import decide_logged, escalate_logged
from schemas import GovhubError
from web.auth import CurrentAdmin, CurrentDepartment, DepartmentOrAdmin
from web.clock import BeijingTime
from web.deps import RowId, SessionDep
from web.problems import problem_from_error
from web.refusals import NotVisible

__all__ = ["DisputeCreate", "DisputeDecision", "DisputePublic", "DisputesPublic", "router"]

router = APIRouter(prefix="/api/disputes", tags=["disputes 共享争议"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "请求体无法解析 — The body is not UTF-8 JSON"},
    401: {"description": "缺少或无效的 API 密钥 — Missing or invalid X-API-Key"},
    403: {"description": "无权操作 — Only the applying department may escalate"},
    404: {"description": "不存在 — Unknown application or dispute, or not visible to this department"},
    409: {"description": "状态冲突 — Not refused nor overdue, or a dispute is already open"},
    422: {"description": "请求无效 — Invalid request: grounds missing"},
}


_StatusFilter = Annotated[
    Literal["open", "granted", "upheld"] | None,
    Query(alias="status", description="状态 — open（待处理）、granted、upheld; all when absent"),
]


class DisputeCreate(BaseModel):
    """Escalate an application to the sharing authority (the caller must be its applicant)."""

    subscription_id: int = Field(ge=1, le=2**63 - 1, description="共享申请编号 — the application escalated")
    grounds: str = Field(min_length=1, max_length=2000, description="理由 — why the data is needed")


class DisputeDecision(BaseModel):
    """The sharing authority's decision: grant the application or uphold the refusal, with reasons."""

    outcome: Literal["granted", "upheld"] = Field(description="处理结果 — granted（准予共享）or upheld（维持不予共享）")
    reason: str = Field(min_length=1, max_length=2000, description="处理理由 — the reasons for the decision")


class DisputePublic(BaseModel):
    """A dispute and, once decided, the authority's decision; moments in Beijing time (+08:00)."""

    id: int
    subscription_id: int
    resource: str
    raised_by: str
    raised_at: BeijingTime
    grounds: str
    due_at: BeijingTime
    overdue: bool
    status: Literal["open", "granted", "upheld"]
    decided_by: str | None
    decided_at: BeijingTime | None
    decision_reason: str | None


class DisputesPublic(BaseModel):
    """Disputes visible to the calling department."""

    data: list[DisputePublic]
    count: int


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="提请争议协调 — escalate an application",
    description="The applying department takes a refused application, or one unanswered after its due date, "
    "to the sharing authority (《政务数据共享条例》); the decision is due within the configured working days.",
    responses=_ERRORS,
)
def create_dispute(body: DisputeCreate, session: SessionDep, department: CurrentDepartment) -> DisputePublic:
    try:
        dispute = escalate_logged(
            session,
            body.subscription_id,
            actor_department=department.code,
            grounds=body.grounds,
            exchange_log=ExchangeLog(session),
        )
        session.commit()
    except GovhubError as e:
        session.rollback()
        raise problem_from_error(e) from e
    return _public(dispute)


@router.get(
    "",
    summary="共享争议列表 — list disputes",
    description="Disputes raised by or against the calling department; every dispute for the sharing authority "
    "(`X-Admin-Key`), `status=open` for those awaiting its decision.",
    responses={401: _ERRORS[401]},
)
def read_disputes(
    session: SessionDep, caller: DepartmentOrAdmin, dispute_status: _StatusFilter = None
) -> DisputesPublic:
    department = caller.code if isinstance(caller, Department) else None
    data = [_public(d) for d in list_disputes(session, department=department, status=dispute_status)]
    return DisputesPublic(data=data, count=len(data))


@router.get(
    "/{dispute_id}",
    summary="共享争议详情 — one dispute",
    description="One dispute visible to the caller (any, for the sharing authority).",
    responses=_ERRORS,
)
def read_dispute(dispute_id: RowId, session: SessionDep, caller: DepartmentOrAdmin) -> DisputePublic:
    try:
        dispute = get_dispute(session, dispute_id)
    except CatalogError as e:
        raise problem_from_error(e) from e
    if isinstance(caller, Department) and not _visible(session, dispute, caller):
        error = problem_from_error(
            CatalogError(f"unknown dispute #{dispute_id}", message_zh=f"协调 #{dispute_id} 不存在", kind="not_found")
        )
        raise NotVisible(error.status_code, detail=error.detail)
    return _public(dispute)


@router.post(
    "/{dispute_id}/decide",
    summary="处理共享争议 — the sharing authority decides",
    description="The sharing authority (the hub's administrators, `X-Admin-Key`) grants the application or upholds "
    "the refusal, with reasons; final, once per dispute, logged. Department keys are refused (403).",
    responses={
        **_ERRORS,
        401: {"description": "Missing or invalid X-Admin-Key (缺少或无效的管理员密钥)"},
        403: {"description": "A department key cannot decide (部门无权处理)"},
    },
)
def decide(dispute_id: RowId, body: DisputeDecision, session: SessionDep, admin: CurrentAdmin) -> DisputePublic:
    try:
        dispute = decide_logged(
            session,
            dispute_id,
            actor=HUB_ADMIN,
            outcome=body.outcome,
            reason=body.reason,
            exchange_log=ExchangeLog(session),
            decided_with=f"admin-key:{admin.name}",
        )
        session.commit()
    except GovhubError as e:
        session.rollback()
        raise problem_from_error(e) from e
    return _public(dispute)


def _visible(session: SessionDep, dispute: SharingDispute, department: Department) -> bool:
    sub = dispute.subscription
    return department.code in (sub.department_code, get_resource(session, sub.resource).provider_code)


def _public(dispute: SharingDispute) -> DisputePublic:
    return DisputePublic(
        id=dispute.id,
        subscription_id=dispute.subscription_id,
        resource=dispute.subscription.resource,
        raised_by=dispute.raised_by,
        raised_at=dispute.raised_at,
        grounds=dispute.grounds,
        due_at=dispute.due_at,
        overdue=dispute.overdue(),
        status=dispute.status,
        decided_by=dispute.decided_by,
        decided_at=dispute.decided_at,
        decision_reason=dispute.decision_reason,
    )
