"""The monitor's quality and run pages, and GX's Data Docs.

GET /monitor/quality?resource=&version=  a version's six scores, its trend and its GX expectations in words
GET /monitor/runs/{run_id}               one ingest run: outcome, counts, stages, version, OpenLineage events
GET /monitor/data-docs/...               GX Data Docs built from the stored suite results (administrators)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from catalog import DatasetVersion
from govhub.models import IngestRun
from web.deps import SessionDep
from web.monitor import data_docs
from web.monitor.expectations import expectation_rows, stored_suites
from web.monitor.lineage_view import ol_event_row
from web.monitor.pages import LangDep, ViewerDep, render
from web.monitor.queries import DIMENSIONS, quality_trend, resource_names

__all__ = ["router"]

router = APIRouter(prefix="/monitor", tags=["monitor"])
router.include_router(data_docs.router)


def _scores(version: DatasetVersion | None) -> tuple[list[dict[str, Any]], float | None]:
    """The version's six dimension scores in the catalogue's order, and how old its newest source change was."""
    card = (version.scorecard or {}) if version else {}
    by_name = {d.get("dimension"): d for d in card.get("dimensions", [])}
    rows = [
        {
            "dimension": name,
            "score": (by_name.get(name) or {}).get("score"),
            "evaluated": (by_name.get(name) or {}).get("evaluated"),
            "failed": (by_name.get(name) or {}).get("failed"),
        }
        for name in DIMENSIONS
    ]
    return rows, card.get("cursor_age_days")


@router.get("/quality", response_class=HTMLResponse, include_in_schema=False)
def quality_page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    lang: LangDep,
    resource: str = "person",
    version: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> HTMLResponse:
    """One version's quality: the six scores, the trend, and each stored suite result (the increment's, and the
    scheduled full check of the version when it ran) with every expectation's observed value and verdict."""
    names = resource_names()
    chosen = resource if resource in names else names[0]
    versions = list(
        session.scalars(
            select(DatasetVersion).where(DatasetVersion.resource == chosen).order_by(DatasetVersion.version)
        )
    )
    current = next((v for v in versions if v.version == version), versions[-1] if versions else None)
    scores, cursor_age = _scores(current)
    checks = [
        {
            "suite": suite,
            "rows": expectation_rows(suite, lang),
            "docs": data_docs.page_path(suite),
            "scope": suite.result.get("scope") or "increment",
            "engine": suite.result.get("engine") or "great_expectations",
        }
        for suite in (stored_suites(session, chosen, current.version) if current else [])
    ]
    return render(
        request,
        "monitor_quality.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="quality",
        resources=names,
        resource=chosen,
        versions=[v.version for v in versions],
        current=current,
        scores=scores,
        cursor_age=cursor_age,
        checks=checks,
        trend=quality_trend(session, chosen),
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
def run_page(request: Request, run_id: str, session: SessionDep, viewer: ViewerDep, lang: LangDep) -> HTMLResponse:
    """One run of the pipeline: what it read, kept and published, where it failed, and its lineage events."""
    from govhub.lineage import read_lineage

    run = session.get(IngestRun, run_id[:80])
    events = []
    if run is not None and viewer.is_admin:
        events = [row for row in map(ol_event_row, read_lineage(run.resource, limit=500)) if row["hub_run"] == run_id]
    return render(
        request,
        "monitor_run.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="run",
        run=run,
        run_id=run_id,
        events=events,
        status_code=200 if run is not None else 404,
    )
