"""Data corrections (校核纠错) API: report an error on a published record, and the provider's answer.

A department (X-API-Key) flags a field of a record it receives through a granted subscription; an
approval system (X-Client-Key) flags one its verification items read, with its case number (办件编号);
a data administrator (X-Admin-Key) flags any published field and sees every flag.
The providing department confirms (and corrects its source) or rejects with reasons; the hub closes a
confirmed flag when a published version carries another value. Reporters follow their flags with
`GET /api/corrections/events?after=N`; a notice file also lands beside a department's deliveries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Security, status
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from catalog import CatalogError, CorrectionEvent, CorrectionFlag, Reporter, get_flag, list_flags, may_see
from catalog.correction_models import masked_key
from exchange.log import ExchangeLog
from exchange.verify import ClientRegistry
from govhub.corrections import decide_logged, flag_logged, refuse_decision
from schemas import GovhubError
from web.auth import ADMIN_KEY_SCHEME, API_KEY_HEADER, current_admin, current_department
from web.clock import BeijingTime
from web.deps import RowId, SessionDep
from web.problems import problem, problem_from_error
from web.refusals import NotVisible

__all__ = ["CorrectionCreate", "CorrectionDecision", "CorrectionPublic", "CorrectionsPublic", "router"]

router = APIRouter(prefix="/api/corrections", tags=["corrections 校核纠错"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "请求体无法解析 — The body is not UTF-8 JSON"},
    401: {"description": "缺少或无效的密钥 — Missing or invalid X-API-Key / X-Client-Key / X-Admin-Key"},
    403: {
        "description": "无权操作 — No grant on the field, a case that did not ask about the record, or not the "
        "provider (administrators flag but do not decide)"
    },
    404: {"description": "不存在 — Unknown resource, field, record or flag, or not visible"},
    409: {"description": "状态冲突 — An active flag on the same record and field, or already answered"},
    422: {"description": "请求无效 — Problem, evidence, case number or reason missing"},
}

_department_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="DepartmentApiKey")
ClientKey = Annotated[str | None, Header(alias="X-Client-Key", description="审批系统密钥 — the client key")]


def current_reporter(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str | None, Security(_department_key)],
    admin_key: Annotated[str | None, Security(ADMIN_KEY_SCHEME)],
    client_key: ClientKey = None,
) -> Reporter:
    """The caller: a data administrator by its X-Admin-Key (it must be valid), a department by its X-API-Key,
    else an approval system by its X-Client-Key (401 without)."""
    if admin_key:
        return Reporter("admin", current_admin(request, session, admin_key, None).name)
    if api_key or not client_key:
        return Reporter("department", current_department(request, session, api_key).code)
    client = ClientRegistry(session.get_bind()).authenticate(client_key)  # type: ignore[arg-type]
    if client is None:
        raise problem(
            status.HTTP_401_UNAUTHORIZED,
            "unauthenticated",
            "the client key is not valid (unknown, revoked or inactive)",
            "核验客户端密钥无效（未知、已作废或已停用）：请以本审批系统的客户端密钥调用",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    return Reporter("client", client.id)


ReporterDep = Annotated[Reporter, Depends(current_reporter)]


class CorrectionCreate(BaseModel):
    """Report an error on one field of one published record."""

    model_config = ConfigDict(extra="forbid")  # a misspelt member is the caller's mistake, named, not ignored

    resource: str = Field(min_length=1, max_length=64, description="资源 — contract name or catalogue code")
    record_key: str = Field(min_length=1, max_length=255, description="主键值 — the record's primary key as published")
    field: str = Field(min_length=1, max_length=64, description="信息项 — the field whose value is wrong")
    problem: str = Field(min_length=1, max_length=2000, description="错误情况 — what is wrong")
    evidence_text: str | None = Field(default=None, max_length=4000, description="证据说明")
    evidence_ref: str | None = Field(default=None, max_length=500, description="证据材料编号或链接")
    case_number: str | None = Field(default=None, max_length=80, description="办件编号 (approval systems)")


class CorrectionDecision(BaseModel):
    """The provider's answer: reasons (required to reject)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000, description="理由")


class CorrectionEventPublic(BaseModel):
    """One step of a flag's life."""

    id: int
    flag_id: int
    action: str
    actor: str
    at: BeijingTime
    note: str | None


class CorrectionPublic(BaseModel):
    """A flag, its answer and its history, seen by its reporter or its provider.

    `record_key` in clear and `flagged_value` (the published value reported wrong) are shown to the
    provider only: a reporter sees the key masked (it may be a citizen ID; the reporter sent it and
    follows the flag by its id) and no value (it may receive the field masked, or only a yes/no).
    """

    id: int
    resource: str
    record_key: str
    field: str
    provider_code: str
    reporter_kind: Literal["department", "client", "admin"]
    reporter: str
    case_number: str | None
    problem: str
    evidence_text: str | None
    evidence_ref: str | None
    flagged_value: str | None
    flagged_version: int | None
    status: Literal["open", "confirmed", "rejected", "closed"]
    raised_at: BeijingTime
    due_at: BeijingTime
    overdue: bool
    decided_by: str | None
    decided_at: BeijingTime | None
    decision_reason: str | None
    closed_at: BeijingTime | None
    closed_version: int | None
    closed_reason: Literal["corrected", "record_left"] | None = Field(
        description="关闭原因 — why the flag closed: `corrected` (a published version carries another value) or "
        "`record_left` (a published version no longer holds the record); null while not closed"
    )
    events: list[CorrectionEventPublic]


class CorrectionsPublic(BaseModel):
    """Flags visible to the caller."""

    data: list[CorrectionPublic]
    count: int


class CorrectionEventsPublic(BaseModel):
    """Steps of the caller's flags after a given event id, oldest first (poll with the last id)."""

    data: list[CorrectionEventPublic]
    count: int


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="提出数据纠错 — flag a wrong value",
    description="对本部门获得共享的已发布记录提出纠错（《政务数据共享条例》校核纠错），数据提供部门在答复期限内核实。"
    " — Flag a wrong value on a published record you receive; the provider answers within the configured "
    "working days (GOVHUB_CORRECTION_ANSWER_WORKING_DAYS).",
    responses=_ERRORS,
)
def create_correction(body: CorrectionCreate, session: SessionDep, reporter: ReporterDep) -> CorrectionPublic:
    if reporter.kind == "client":
        reporter = Reporter("client", reporter.id, case_number=body.case_number)
    try:
        flag = flag_logged(
            session,
            reporter=reporter,
            resource=body.resource,
            record_key=body.record_key,
            field=body.field,
            problem=body.problem,
            evidence_text=body.evidence_text,
            evidence_ref=body.evidence_ref,
            exchange_log=ExchangeLog(session),
        )
        session.commit()
    except GovhubError as e:
        session.rollback()
        raise problem_from_error(e) from e
    return _public(flag, reporter)


@router.get(
    "",
    summary="查看数据纠错 — the caller's flags",
    description="本方提出的纠错，以及（数据提供部门）针对本部门数据的纠错。 — Flags the caller raised and, for a "
    "provider, those on its data.",
    responses={401: _ERRORS[401], 422: {"description": "请求无效 — Unknown status"}},
)
def read_corrections(
    session: SessionDep,
    reporter: ReporterDep,
    state: Annotated[Literal["open", "confirmed", "rejected", "closed"] | None, Query(alias="status")] = None,
) -> CorrectionsPublic:
    data = [_public(f, reporter) for f in list_flags(session, viewer=reporter, status=state)]
    return CorrectionsPublic(data=data, count=len(data))


@router.get(
    "/events",
    summary="数据纠错进展 — steps after an event id",
    description="本方纠错在事件编号 `after` 之后的处理步骤。 — Steps of the caller's flags after event id `after`.",
    responses={401: _ERRORS[401], 422: {"description": "请求无效 — `after` is not an event id"}},
)
def read_events(
    session: SessionDep,
    reporter: ReporterDep,
    after: Annotated[int, Query(ge=0, le=2_147_483_647)] = 0,
) -> CorrectionEventsPublic:
    ids = [f.id for f in list_flags(session, viewer=reporter)]
    events = session.scalars(
        select(CorrectionEvent)
        .where(CorrectionEvent.flag_id.in_(ids or [-1]), CorrectionEvent.id > after)
        .order_by(CorrectionEvent.id)
        .limit(500)
    )
    data = [_event(e) for e in events]
    return CorrectionEventsPublic(data=data, count=len(data))


@router.get(
    "/{flag_id}",
    summary="数据纠错详情 — one flag",
    description="一项可见的纠错。 — One visible flag.",
    responses=_ERRORS,
)
def read_correction(flag_id: RowId, session: SessionDep, reporter: ReporterDep) -> CorrectionPublic:
    return _public(_visible(session, flag_id, reporter), reporter)


def _decide(flag_id: int, body: CorrectionDecision, session: SessionDep, reporter: Reporter, *, confirm: bool) -> Any:
    flag = _visible(session, flag_id, reporter)
    try:
        if reporter.kind != "department":
            refuse_decision(session, flag.id, reporter=reporter, exchange_log=ExchangeLog(session))
        decided = decide_logged(
            session,
            flag.id,
            actor_department=reporter.id,
            confirm=confirm,
            reason=body.reason,
            exchange_log=ExchangeLog(session),
        )
        session.commit()
    except GovhubError as e:
        session.rollback()
        raise problem_from_error(e) from e
    return _public(decided, reporter)


@router.post(
    "/{flag_id}/confirm",
    summary="确认数据错误 — confirm (the provider)",
    description="数据提供部门确认错误并在源系统更正；新版本数据变化后自动关闭。 — The provider confirms the error and "
    "corrects its source; the flag closes with the next version that carries another value.",
    responses=_ERRORS,
)
def confirm_correction(
    flag_id: RowId, body: CorrectionDecision, session: SessionDep, reporter: ReporterDep
) -> CorrectionPublic:
    return _decide(flag_id, body, session, reporter, confirm=True)  # type: ignore[no-any-return]


@router.post(
    "/{flag_id}/reject",
    summary="驳回数据纠错 — reject (the provider)",
    description="数据提供部门驳回纠错，须说明理由。 — The provider rejects the flag, with reasons.",
    responses=_ERRORS,
)
def reject_correction(
    flag_id: RowId, body: CorrectionDecision, session: SessionDep, reporter: ReporterDep
) -> CorrectionPublic:
    return _decide(flag_id, body, session, reporter, confirm=False)  # type: ignore[no-any-return]


def _visible(session: SessionDep, flag_id: int, reporter: Reporter) -> CorrectionFlag:
    try:
        flag = get_flag(session, flag_id)
    except CatalogError as e:
        raise problem_from_error(e) from e
    if not may_see(flag, reporter):
        error = problem_from_error(
            CatalogError(f"unknown correction #{flag_id}", message_zh=f"纠错 #{flag_id} 不存在", kind="not_found")
        )
        raise NotVisible(error.status_code, detail=error.detail)
    return flag


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _event(event: CorrectionEvent) -> CorrectionEventPublic:
    return CorrectionEventPublic(
        id=event.id, flag_id=event.flag_id, action=event.action, actor=event.actor, at=_aware(event.at), note=event.note
    )


def _public(flag: CorrectionFlag, viewer: Reporter) -> CorrectionPublic:
    provider = viewer.kind == "department" and viewer.id == flag.provider_code
    return CorrectionPublic(
        id=flag.id,
        resource=flag.resource,
        record_key=flag.record_key if provider else masked_key(flag.record_key),
        field=flag.field,
        provider_code=flag.provider_code,
        reporter_kind=flag.reporter_kind,
        reporter=flag.reporter,
        case_number=flag.case_number,
        problem=flag.problem,
        evidence_text=flag.evidence_text,
        evidence_ref=flag.evidence_ref,
        flagged_value=flag.flagged_value if provider else None,
        flagged_version=flag.flagged_version,
        status=flag.status,
        raised_at=_aware(flag.raised_at),
        due_at=_aware(flag.due_at),
        overdue=flag.overdue(),
        decided_by=flag.decided_by,
        decided_at=_aware(flag.decided_at),
        decision_reason=flag.decision_reason,
        closed_at=_aware(flag.closed_at),
        closed_version=flag.closed_version,
        closed_reason=flag.closed_reason,
        events=[_event(e) for e in flag.events],
    )
