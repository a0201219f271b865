"""The monitor data administrators watch (监控): server-rendered pages in Chinese (`?lang=en` for English).

GET  /monitor                  per source and resource: last run, counts, version, freshness; quality trend
GET  /monitor/exchanges        exchange volume by source, subscriber department, verification client
GET  /monitor/quarantine       rejected rows by reason with the offending values (paged); .csv to download
GET  /monitor/sharing          pending applications (overdue flagged), subscriptions, recent deliveries
GET  /monitor/lineage          a resource as a graph: source system → resource → versions (runs) → departments,
                               and its OpenLineage events
GET  /monitor/alerts           failed runs, stale resources, quality drops, denial spikes, chain breaks
GET  /monitor/log              the exchange log, filtered and paged
GET|POST /monitor/login, POST /monitor/logout: in `web/routes/monitor_signin.py`
JSON behind the charts: /monitor/api/... (see `web.monitor.api`). Departments see their own exchanges only.
"""

from __future__ import annotations

from datetime import datetime
from math import ceil
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from catalog import Resource
from core.time import BEIJING
from exchange.log import EventType, ExchangeLog
from schemas import load_all
from web.deps import SessionDep
from web.monitor import api
from web.monitor.alerts import collect_alerts
from web.monitor.auth import Viewer
from web.monitor.disputes import dispute_rows
from web.monitor.i18n import item_label
from web.monitor.lineage_view import lineage_chart, ol_event_row
from web.monitor.pages import AdminDep, LangDep, ViewerDep, keys_dir, render
from web.monitor.quarantine import content_disposition, csv_chunks, quarantine_rows, reason_counts
from web.monitor.queries import (
    LogFilter,
    client_names,
    deliveries,
    department_names,
    exchange_volume,
    log_page,
    overview_rows,
    pending_applications,
    quality_trend,
    resource_names,
    subscriptions,
)
from web.monitor.redact import redact_rows

__all__ = ["router"]

router = APIRouter(prefix="/monitor", tags=["monitor"])
router.include_router(api.router)
_PAGE = HTMLResponse
_PER_PAGE = 50


@router.get("", response_class=_PAGE, include_in_schema=False)
def overview(request: Request, session: SessionDep, viewer: ViewerDep, lang: LangDep) -> HTMLResponse:
    rows = overview_rows(session)
    return render(
        request,
        "monitor_overview.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="overview",
        rows=rows,
        trend=quality_trend(session),
        has_runs=any(r["last_run_id"] for r in rows),
    )


@router.get("/exchanges", response_class=_PAGE, include_in_schema=False)
def exchanges(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    lang: LangDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> HTMLResponse:
    volume = exchange_volume(session, viewer, days=days)
    return render(
        request,
        "monitor_exchanges.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="exchanges",
        volume=volume,
        days=days,
    )


def _visible_resources(session: SessionDep, viewer: Viewer) -> list[str]:
    """Admins see every resource's quarantine; a department those it provides."""
    names = resource_names()
    if viewer.is_admin:
        return names
    provided = {r.resource for r in session.query(Resource).filter(Resource.provider_code == viewer.department_code)}
    return [n for n in names if n in provided]


def _quarantine(  # type: ignore[no-untyped-def]
    request: Request,
    session: SessionDep,
    viewer: Viewer,
    resource: str | None,
    rule: str | None,
    field: str | None,
    *,
    clear: bool,
    shown_as: str,
):
    """The viewer's quarantine rows: PII masked, or in clear for a `pii_viewer` (each such view logged)."""
    if clear and not viewer.may_see_pii:
        raise HTTPException(
            403, detail="only administrators with the pii_viewer role may see clear values — 无权查看明文个人信息"
        )
    allowed = _visible_resources(session, viewer)
    chosen = [resource] if resource in allowed else ([] if resource else allowed)
    rows = quarantine_rows(chosen, rule=rule or None, field=field or None)
    if not clear:
        return allowed, redact_rows(rows, load_all())
    ExchangeLog(session).append(
        EventType.ADMIN,
        source="monitor",
        target=f"admin:{viewer.name}",
        resource=resource or None,
        rows=len(rows),
        outcome="ok",
        details={
            "action": "pii_clear_view",
            "viewer": viewer.name,
            "shown_as": shown_as,
            "resources": chosen,
            "rule": rule or None,
            "field": field or None,
            "address": request.client.host if request.client else None,
        },
    )
    session.commit()
    return allowed, rows


@router.get("/quarantine", response_class=_PAGE, include_in_schema=False)
def quarantine(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    lang: LangDep,
    resource: str | None = None,
    rule: str | None = None,
    field: str | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    clear: bool = False,
) -> HTMLResponse:
    allowed, rows = _quarantine(request, session, viewer, resource, rule, field, clear=clear, shown_as=f"page {page}")
    pages = max(1, ceil(len(rows) / _PER_PAGE))
    return render(
        request,
        "monitor_quarantine.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="quarantine",
        resources=allowed,
        resource=resource or "",
        rule=rule or "",
        field=field or "",
        rows=rows[(page - 1) * _PER_PAGE : page * _PER_PAGE],
        total=len(rows),
        page_no=page,
        pages=pages,
        reasons=reason_counts(rows),
        clear=clear,
    )


@router.get("/quarantine.csv", include_in_schema=False)
def quarantine_csv(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    resource: str | None = None,
    rule: str | None = None,
    field: str | None = None,
    clear: bool = False,
) -> StreamingResponse:
    _, rows = _quarantine(request, session, viewer, resource, rule, field, clear=clear, shown_as="csv")
    name = f"quarantine-{resource or 'all'}{'-' + rule if rule else ''}.csv"
    return StreamingResponse(
        csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(name)},
    )


@router.get("/sharing", response_class=_PAGE, include_in_schema=False)
def sharing(request: Request, session: SessionDep, viewer: ViewerDep, lang: LangDep) -> HTMLResponse:
    return render(
        request,
        "monitor_sharing.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="sharing",
        pending=pending_applications(session, viewer),
        subscriptions=subscriptions(session, viewer),
        deliveries=deliveries(session, viewer),
        disputes=dispute_rows(session, viewer),
    )


@router.get("/alerts", response_class=_PAGE, include_in_schema=False)
def alerts(request: Request, session: SessionDep, viewer: AdminDep, lang: LangDep) -> HTMLResponse:
    found, _report = collect_alerts(session, keys_dir=keys_dir())
    return render(
        request, "monitor_alerts.html", viewer=viewer, session=session, lang=lang, page="alerts", alerts=found
    )


def _moment(value: str | None) -> datetime | None:
    """A date or datetime-local form value in Beijing time."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


@router.get("/log", response_class=_PAGE, include_in_schema=False)
def exchange_log(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    lang: LangDep,
    type: str | None = None,
    resource: str | None = None,
    department: str | None = None,
    client: str | None = None,
    outcome: str | None = None,
    since: str | None = None,
    until: str | None = None,
    case_number: Annotated[str | None, Query(max_length=80)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    address: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    oldest: bool = False,
) -> HTMLResponse:
    """The exchange log, newest first, filtered, paged by keyset (`before` / `after` a seq, `oldest`)."""
    where = LogFilter(
        type=type or None,
        resource=resource or None,
        department=department or None,
        client=client or None,
        outcome=outcome or None,
        since=_moment(since),
        until=_moment(until),
        case_number=case_number or None,
        subject=subject or None,
        address=address or None,
    )
    found = log_page(session, viewer, where, before=before, after=after, oldest=oldest, per_page=_PER_PAGE)
    filters = {
        "type": type,
        "resource": resource,
        "department": department,
        "client": client,
        "outcome": outcome,
        "since": since,
        "until": until,
        "case_number": case_number,
        "subject": subject,
        "address": address,
    }
    return render(
        request,
        "monitor_log.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="log",
        events=found.events,
        total=found.total,
        capped=found.capped,
        older=found.older,
        newer=found.newer,
        filters=filters,
        names=department_names(session) | client_names(session),
        item=lambda code: item_label(code, lang),
        resources=resource_names(),
    )


@router.get("/lineage", response_class=_PAGE, include_in_schema=False)
def lineage_page(
    request: Request, session: SessionDep, viewer: ViewerDep, lang: LangDep, resource: str = "person"
) -> HTMLResponse:
    """A resource's lineage: source system → resource → versions → deliveries, and its OpenLineage events."""
    from catalog import CatalogError, lineage
    from exchange.delivery import deliveries_for_lineage
    from govhub.lineage import read_lineage

    names = resource_names()
    chosen = resource if resource in names else names[0]
    try:
        graph = lineage(
            session,
            chosen,
            department=None if viewer.is_admin else viewer.department_code,
            deliveries=deliveries_for_lineage,
        )
    except CatalogError:  # not registered yet: nothing was ever published
        graph = None
    events = read_lineage(chosen, limit=30) if viewer.is_admin else []
    departments = department_names(session)
    return render(
        request,
        "monitor_lineage.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="lineage",
        resources=names,
        resource=chosen,
        graph=graph,
        chart=lineage_chart(graph, departments, lang) if graph else None,
        events=[ol_event_row(e) for e in events],
        names=departments,
    )
