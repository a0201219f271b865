"""JSON behind the monitor's charts and tables (`/monitor/api/...`), in OpenAPI under the tag `monitor`.

Auth: the monitor's session cookie, or a department's `X-API-Key`; a department gets only its own
exchanges, deliveries and subscriptions, and no alerts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from web.clock import beijing_document
from web.deps import SessionDep
from web.monitor.alerts import chain_state, chain_summary, collect_alerts
from web.monitor.api_models import (
    ChainSummary,
    MonitorAlerts,
    MonitorExchanges,
    MonitorLog,
    MonitorOverview,
    MonitorQuality,
    MonitorSharing,
)
from web.monitor.disputes import dispute_rows
from web.monitor.pages import ApiViewerDep, keys_dir
from web.monitor.queries import (
    LogFilter,
    deliveries,
    exchange_volume,
    log_page,
    overview_rows,
    pending_applications,
    quality_trend,
)
from web.problems import problem

__all__ = ["router"]

router = APIRouter(
    prefix="/api",
    tags=["monitor"],
    responses={401: {"description": "未登录或 API 密钥无效 — not signed in and no valid X-API-Key"}},
)


@router.get("/overview", summary="监控总览 — per-resource status", response_model=MonitorOverview)
def api_overview(session: SessionDep, viewer: ApiViewerDep) -> dict[str, Any]:
    """Per source system and resource: last run, outcome, rows in/accepted/rejected, version, freshness."""
    return beijing_document({"data": overview_rows(session)})


@router.get("/quality", summary="质量趋势 — quality scorecard trend (GB/T 36344)", response_model=MonitorQuality)
def api_quality(session: SessionDep, viewer: ApiViewerDep, resource: str | None = None) -> dict[str, Any]:
    """Per resource, the six GB/T 36344 dimension scores of every published version, oldest first."""
    return {"data": quality_trend(session, resource)}


@router.get("/exchanges", summary="交换量 — exchange volume over time", response_model=MonitorExchanges)
def api_exchanges(
    session: SessionDep, viewer: ApiViewerDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> dict[str, Any]:
    """Event counts per time bucket by source, subscriber department and verification client."""
    return beijing_document(exchange_volume(session, viewer, days=days))


@router.get(
    "/sharing", summary="共享与交付 — pending applications and recent deliveries", response_model=MonitorSharing
)
def api_sharing(session: SessionDep, viewer: ApiViewerDep) -> dict[str, Any]:
    """Applications awaiting a decision (with `overdue`), the 50 most recent deliveries, and sharing disputes
    (`open` with age and working days left, `decided`)."""
    return beijing_document(
        {
            "pending": pending_applications(session, viewer),
            "deliveries": deliveries(session, viewer),
            "disputes": dispute_rows(session, viewer),
        }
    )


@router.get(
    "/alerts",
    summary="告警 — current alerts (administrators)",
    response_model=MonitorAlerts,
    responses={403: {"description": "仅限数据管理员 — data administrators only"}},
)
def api_alerts(session: SessionDep, viewer: ApiViewerDep) -> dict[str, Any]:
    """Failed runs, stale resources, quality drops, denied-access spikes and chain breaks."""
    if not viewer.is_admin:
        raise problem(
            status.HTTP_403_FORBIDDEN,
            "admins_only",
            "data administrators only: sign in to the monitor as an administrator",
            "仅限数据管理员：请以管理员账号登录监控",
        )
    found, report = collect_alerts(session, keys_dir=keys_dir())
    return beijing_document({"alerts": [a.__dict__ for a in found], "chain": chain_summary(report)})


@router.get("/chain", summary="交换日志链 — exchange-log chain state", response_model=ChainSummary)
def api_chain(session: SessionDep, viewer: ApiViewerDep) -> dict[str, Any]:
    """Whether the exchange log verifies: the events after the last verified checkpoint, and the last full walk."""
    return beijing_document(chain_summary(chain_state(session, keys_dir=keys_dir())))


@router.get("/log", summary="交换日志 — exchange-log events, filtered and paged by keyset", response_model=MonitorLog)
def api_log(
    session: SessionDep,
    viewer: ApiViewerDep,
    type: str | None = None,
    resource: str | None = None,
    department: str | None = None,
    client: str | None = None,
    outcome: str | None = None,
    case_number: Annotated[str | None, Query(max_length=80)] = None,
    subject: Annotated[str | None, Query(max_length=200, description="a citizen ID or company code")] = None,
    address: Annotated[
        str | None, Query(max_length=64, description="客户端地址 — refusals of callers without a valid key")
    ] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="events older than this seq")] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="events newer than this seq")] = None,
    oldest: bool = False,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Events newest first; a department sees only events naming it. `next_before` / `prev_after` page on.

    `total` counts matches up to 10,000 (`total_capped` when there are more).
    """
    where = LogFilter(
        type=type,
        resource=resource,
        department=department,
        client=client,
        outcome=outcome,
        case_number=case_number or None,
        subject=subject or None,
        address=address or None,
    )
    page = log_page(session, viewer, where, before=before, after=after, oldest=oldest, per_page=per_page)
    columns = (
        "seq",
        "event_id",
        "type",
        "recorded_at",
        "source",
        "target",
        "resource",
        "version",
        "rows",
        "outcome",
        "error_code",
        "run_id",
        "client",
        "department",
        "purpose",
        "case_number",
        "subject_hash",
    )
    return beijing_document(
        {
            "total": page.total,
            "total_capped": page.capped,
            "next_before": page.older,
            "prev_after": page.newer,
            "data": [{c: getattr(e, c) for c in columns} for e in page.events],
        }
    )
