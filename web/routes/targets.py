"""Delivery targets API: a department lists its own target names; the hub administrator registers them.

GET    /api/targets                                   the calling department's targets (X-API-Key): names only
GET    /monitor/api/targets                           every target (administrator session)
POST   /monitor/api/targets                           register or re-point one (administrator + X-CSRF-Token)
DELETE /monitor/api/targets/{department}/{name}       retire one (administrator + X-CSRF-Token)

A target's connection (URL, file path, settings key) is never part of an answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from pydantic import BaseModel, Field

from catalog import DeliveryTarget, list_targets, remove_target
from govhub.delivery_targets import add_target
from schemas import GovhubError
from web.auth import CurrentDepartment
from web.deps import SessionDep
from web.monitor.auth import Viewer, session_secret
from web.monitor.csrf import CSRF_HEADER, csrf_valid
from web.monitor.pages import ApiViewerDep, keys_dir
from web.problems import problem, problem_from_error

__all__ = [
    "DeliveryTargetCreate",
    "DeliveryTargetPublic",
    "DeliveryTargetRetired",
    "DeliveryTargetsPublic",
    "admin_router",
    "router",
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "请求体无法解析 — The body is not UTF-8 JSON"},
    401: {"description": "缺少或无效的凭据 — Missing or invalid X-API-Key or monitor session"},
    403: {
        "description": "无权操作或目标被拒绝 — not a hub administrator, a missing X-CSRF-Token, or a target "
        "reaching the hub or another department"
    },
    404: {"description": "不存在 — Unknown department or target"},
    422: {"description": "请求无效 — Invalid name or connection"},
}

router = APIRouter(prefix="/api/targets", tags=["targets 交付目标"])
admin_router = APIRouter(prefix="/monitor/api/targets", tags=["targets 交付目标"])


class DeliveryTargetPublic(BaseModel):
    """A registered target as anyone may see it: who, what name, where the connection is held (kind only)."""

    department_code: str
    name: str
    source: str = Field(description="file or setting: where the connection is held (never the connection)")
    registered_by: str
    registered_at: datetime


class DeliveryTargetsPublic(BaseModel):
    data: list[DeliveryTargetPublic]
    count: int


class DeliveryTargetRetired(BaseModel):
    """A retired target."""

    department_code: str
    name: str
    active: bool = Field(description="启用 — always false: the target is retired")


class DeliveryTargetCreate(BaseModel):
    """A target for a department: exactly one of url, secret_file, setting."""

    department_code: str = Field(min_length=1, max_length=32, description="部门代码 — the department's code")
    name: str = Field(min_length=1, max_length=64, description="目标名称 — lower-case letters, digits, - and _")
    url: str | None = Field(default=None, max_length=2000, description="SQLAlchemy URL, stored in a 0600 file")
    secret_file: str | None = Field(default=None, max_length=1000, description="A file on the hub holding the URL")
    setting: str | None = Field(default=None, max_length=200, description="A key of GOVHUB_DELIVERY_TARGETS")


def _public(target: DeliveryTarget) -> DeliveryTargetPublic:
    at = target.registered_at if target.registered_at.tzinfo else target.registered_at.replace(tzinfo=UTC)
    return DeliveryTargetPublic(
        department_code=target.department_code,
        name=target.name,
        source=target.source,
        registered_by=target.registered_by,
        registered_at=at,
    )


@router.get(
    "",
    summary="本部门交付目标 — the calling department's targets",
    description="The calling department's delivery target names.",
    responses={401: _ERRORS[401]},
)
def own_targets(session: SessionDep, department: CurrentDepartment) -> DeliveryTargetsPublic:
    data = [_public(t) for t in list_targets(session, department=department.code)]
    return DeliveryTargetsPublic(data=data, count=len(data))


def _admin_writer(
    request: Request, viewer: ApiViewerDep, csrf: Annotated[str | None, Header(alias=CSRF_HEADER)] = None
) -> Viewer:
    """A signed-in administrator whose request carries the page's CSRF token (cookie sessions can be ridden)."""
    if not viewer.is_admin:
        raise problem(status.HTTP_403_FORBIDDEN, "admins_only", "hub administrators only", "仅限平台管理员")
    if request.method != "GET" and not csrf_valid(request, session_secret(keys_dir()), csrf):
        raise problem(
            status.HTTP_403_FORBIDDEN,
            "csrf_failed",
            "missing or wrong X-CSRF-Token: reload the monitor page and send its token",
            "缺少或错误的 CSRF 令牌（X-CSRF-Token）：请刷新监控页面后使用页面的令牌",
        )
    return viewer


AdminWriter = Annotated[Viewer, Depends(_admin_writer)]


@admin_router.get(
    "",
    summary="全部交付目标 — every target (administrators)",
    description="Every registered target (administrators).",
    responses=_ERRORS,
)
def all_targets(session: SessionDep, admin: AdminWriter) -> DeliveryTargetsPublic:
    data = [_public(t) for t in list_targets(session)]
    return DeliveryTargetsPublic(data=data, count=len(data))


@admin_router.post(
    "", status_code=status.HTTP_201_CREATED, summary="登记交付目标 — register a target", responses=_ERRORS
)
def create_target(body: DeliveryTargetCreate, session: SessionDep, admin: AdminWriter) -> DeliveryTargetPublic:
    """Register (or re-point) a department's target; refused when it reaches the hub or another department."""
    try:
        target = add_target(
            session,
            department_code=body.department_code,
            name=body.name,
            url=body.url,
            secret_file=Path(body.secret_file) if body.secret_file else None,
            setting=body.setting,
            actor=f"admin:{admin.name}",
        )
        session.commit()
    except GovhubError as e:
        session.rollback()
        raise problem_from_error(e) from e
    return _public(target)


@admin_router.delete(
    "/{department_code}/{name}",
    summary="停用交付目标 — retire a target",
    description="Retire one target: deliveries naming it fail (and say so) until it is registered again.",
    responses=_ERRORS,
)
def delete_target(department_code: str, name: str, session: SessionDep, admin: AdminWriter) -> DeliveryTargetRetired:
    try:
        remove_target(session, department_code, name)
        session.commit()
    except GovhubError as e:
        session.rollback()
        raise problem_from_error(e) from e
    return DeliveryTargetRetired(department_code=department_code, name=name, active=False)
