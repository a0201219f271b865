"""Deliveries API: a department pulls its changes (api mode) and lists what it has received.

The caller is the department of its X-API-Key; another department's subscription answers 404 as if
it did not exist. Rows carry the same field restriction and PII masking as file and database
deliveries. Every page served is an exchange-log "delivery" event.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field
from sqlalchemy import select

from catalog.subscriptions import Subscription
from exchange.delivery import DeliveryError, list_deliveries, pull_changes
from exchange.log import ExchangeLog
from govhub.delivery_runner import delivery_secret, open_lake
from schemas import LakeError, load_contract
from web.auth import CurrentDepartment
from web.clock import BeijingTime, beijing_json
from web.deps import MAX_ROW_ID, RowId, SessionDep
from web.masking import MaskingNoticePublic, masking_for
from web.monitor.i18n import label
from web.problems import problem
from web.refusals import NotVisible

__all__ = ["ChangesPublic", "DeliveriesPublic", "DeliveryPublic", "router"]

router = APIRouter(prefix="/api/deliveries", tags=["deliveries 数据交付"])
log = logging.getLogger(__name__)

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "分页标记无效或版本号超前 — a page_token this hub did not issue, or an after_version beyond "
        "the current version"
    },
    401: {"description": "缺少或无效的 API 密钥 — Missing or invalid X-API-Key"},
    403: {"description": "未授权 — The subscription is not granted (revoked, pending, refused)"},
    404: {"description": "不存在 — Unknown subscription, or not this department's"},
    409: {"description": "交付方式不符 — The subscription is delivered by file or database, not pulled"},
    422: {"description": "参数无效 — Invalid parameters"},
    503: {"description": "数据湖暂不可用 — The lake is not available; no server details are given"},
}


class ChangesPublic(BaseModel):
    """One page of changes: rows with `_change_type` (insert/update/delete) and `_commit_version`."""

    subscription_id: int
    resource: str
    after_version: int | None = Field(description="Exclusive start; null = a full snapshot")
    to_version: int | None = Field(description="Inclusive end, pinned for the whole page sequence")
    total: int = Field(description="Rows in the whole increment")
    rows: list[dict[str, Any]]
    next_page_token: str | None = Field(description="Pass to get the next page; null on the last page")
    next_after_version: int | None = Field(description="On the last page: the after_version of the next pull")
    masked_fields: list[str] = Field(description="脱敏字段 — granted fields these rows carry masked (no PII access)")
    masking: MaskingNoticePublic | None = Field(description="脱敏说明 — why, and how to ask for them; null if none")


class DeliveryPublic(BaseModel):
    """One delivery record."""

    subscription_id: int
    resource: str
    mode: str
    from_version: int | None
    to_version: int
    status: str
    rows: int
    bytes: int | None
    checksum: str | None
    location: str | None
    started_at: BeijingTime
    finished_at: BeijingTime | None
    error: str | None
    masked_fields: list[str] = Field(description="脱敏字段 — granted fields delivered masked (no PII access)")
    masking: MaskingNoticePublic | None = Field(description="脱敏说明 — why, and how to ask for them; null if none")


class DeliveriesPublic(BaseModel):
    data: list[DeliveryPublic]
    count: int


def _own_subscription(session: Any, subscription_id: int, department: str) -> Subscription:
    sub = session.get(Subscription, subscription_id)
    if sub is None or sub.department_code != department:
        missing = problem(
            status.HTTP_404_NOT_FOUND,
            "not_found",
            f"unknown subscription #{subscription_id}: check the id (GET /api/subscriptions lists yours)",
            f"订阅 #{subscription_id} 不存在：请核对编号（GET /api/subscriptions 列出本部门的订阅）",
        )
        raise missing if sub is None else NotVisible(missing.status_code, detail=missing.detail)
    if sub.status != "granted":
        raise problem(
            status.HTTP_403_FORBIDDEN,
            "not_granted",
            f"subscription #{sub.id} is {sub.status}; no changes are served",
            f"订阅 #{sub.id} 当前状态为 {label(sub.status)}（{sub.status}），不提供数据",
        )
    if sub.delivery_mode != "api":
        raise problem(
            status.HTTP_409_CONFLICT,
            "conflict",
            f"subscription #{sub.id} is delivered by {sub.delivery_mode}, not pulled through the API",
            f"订阅 #{sub.id} 的交付方式为 {label(f'mode_{sub.delivery_mode}')}（{sub.delivery_mode}），"
            "不能通过接口拉取",
            field="delivery_mode",
        )
    return sub


def _refused(sub: Subscription, error: DeliveryError) -> HTTPException:
    """A pull the delivery room refused, as a problem naming what to do."""
    if error.code == "not_granted":  # e.g. the grant's term of use (使用期限) has ended
        return problem(
            status.HTTP_403_FORBIDDEN, error.code, str(error), f"订阅 #{sub.id} 已不在授权使用期限内，不提供数据"
        )
    if error.code == "bad_page_token":
        return problem(
            status.HTTP_400_BAD_REQUEST,
            error.code,
            str(error),
            "分页标记（page_token）无效，请不带 page_token 重新开始",
            field="page_token",
        )
    if error.code == "after_version_ahead":
        current = error.current_version
        where = "尚未发布任何版本" if current is None else f"当前版本为 {current}"
        return problem(
            status.HTTP_400_BAD_REQUEST,
            error.code,
            str(error),
            f"after_version（上次收到的版本）超过资源已有的版本：{where}；请用不大于当前版本的 after_version，"
            "或不带 after_version 取全量快照",
            field="after_version",
            current_version=current,
        )
    return problem(status.HTTP_422_UNPROCESSABLE_CONTENT, error.code, str(error), "请求无法完成：" + str(error))


@router.get(
    "/{subscription_id}/changes",
    response_model=ChangesPublic,
    responses=_ERRORS,
    summary="拉取变更 — pull a subscription's changes",
    description="Changes after `after_version` (exclusive) up to the current version, paged, masked and "
    "restricted; an `after_version` beyond the current version is a 400 problem naming it. `masked_fields` "
    "says which granted fields arrive masked, why, and how to ask for them.",
)
def get_changes(
    subscription_id: RowId,
    session: SessionDep,
    department: CurrentDepartment,
    after_version: int | None = Query(
        default=None, ge=-1, le=MAX_ROW_ID, description="上次收到的版本 — last version received; omit for a snapshot"
    ),
    page_token: str | None = Query(default=None, max_length=4096, description="分页标记 — from the previous page"),
    limit: int = Query(default=1000, ge=1, le=10_000, description="条数 — rows per page"),
) -> dict[str, Any]:
    sub = _own_subscription(session, subscription_id, department.code)
    started = time.perf_counter()
    try:
        page = pull_changes(
            open_lake(),
            load_contract(sub.resource),
            sub,
            secret=delivery_secret(),
            after_version=after_version,
            page_token=page_token,
            limit=limit,
        )
    except DeliveryError as e:
        raise _refused(sub, e) from e
    except LakeError as e:  # the lake's path and error stay in the server log, never in the answer
        log.error("pull of subscription %s failed: %s", sub.id, e)
        raise problem(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "unavailable",
            "the data lake is not available; try again later",
            "数据湖暂不可用，请稍后重试",
        ) from e
    ExchangeLog(session).append(
        "delivery",
        source="govhub",
        target=sub.department_code,
        department=sub.department_code,
        resource=sub.resource,
        version=page.to_version,
        rows=len(page.rows),
        outcome="ok",
        duration_ms=(time.perf_counter() - started) * 1000,
        purpose=sub.purpose or None,
        details={
            "subscription_id": sub.id,
            "mode": "api",
            "after_version": page.after_version,
            "page_token": page_token,
            "total": page.total,
        },
    )
    session.commit()
    masked, notice = masking_for(sub.resource, sub.fields, pii_access=sub.pii_access, subscription_id=sub.id)
    return {
        "masked_fields": masked,
        "masking": notice,
        "subscription_id": page.subscription_id,
        "resource": page.resource,
        "after_version": page.after_version,
        "to_version": page.to_version,
        "total": page.total,
        "rows": jsonable_encoder(beijing_json(page.rows)),  # data moments in Beijing time too
        "next_page_token": page.next_page_token,
        "next_after_version": page.next_after_version,
    }


@router.get(
    "",
    response_model=DeliveriesPublic,
    responses={401: _ERRORS[401]},
    summary="交付记录 — deliveries received",
    description="The deliveries made to the calling department, newest first.",
)
def get_deliveries(
    session: SessionDep,
    department: CurrentDepartment,
    resource: str | None = Query(default=None, max_length=64, description="资源 — only this resource"),
    limit: int = Query(default=100, ge=1, le=1000, description="条数 — at most this many, newest first"),
) -> dict[str, Any]:
    rows = list_deliveries(session, department=department.code, resource=resource, limit=limit)
    names = [n for n in DeliveryPublic.model_fields if n not in ("rows", "masked_fields", "masking")]
    grants = {
        s.id: s
        for s in session.scalars(select(Subscription).where(Subscription.id.in_({r.subscription_id for r in rows})))
    }
    data = []
    for r in rows:
        sub = grants.get(r.subscription_id)
        masked, notice = (
            masking_for(sub.resource, sub.fields, pii_access=sub.pii_access, subscription_id=sub.id)
            if sub is not None
            else ([], None)
        )
        data.append(
            DeliveryPublic(rows=r.rows, masked_fields=masked, masking=notice, **{n: getattr(r, n) for n in names})
        )
    return {"data": data, "count": len(data)}
