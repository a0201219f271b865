"""The monitor's corrections page (数据纠错): open flags with their age, outcomes per provider, overdue ones.

GET /monitor/corrections       an administrator sees every flag; a department those it raised or must answer.
GET /monitor/api/corrections   the same as JSON (session cookie or X-API-Key), Beijing times.
Answering happens through the API (`/api/corrections/{id}/confirm|reject`) or `govhub correction`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web.clock import beijing_document
from web.deps import SessionDep
from web.monitor.corrections import correction_rows, provider_summary
from web.monitor.pages import ApiViewerDep, LangDep, ViewerDep, render

__all__ = ["router"]

router = APIRouter(prefix="/monitor", tags=["monitor"])


@router.get("/corrections", response_class=HTMLResponse, include_in_schema=False)
def corrections(request: Request, session: SessionDep, viewer: ViewerDep, lang: LangDep) -> HTMLResponse:
    return render(
        request,
        "monitor_corrections.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="corrections",
        flags=correction_rows(session, viewer),
        providers=provider_summary(session, viewer),
    )


@router.get("/api/corrections", tags=["monitor"], summary="Data corrections by provider, and the flags (校核纠错)")
def api_corrections(session: SessionDep, viewer: ApiViewerDep) -> dict[str, Any]:
    """Per providing department the flags by outcome and the oldest open one; every visible flag with its age."""
    return beijing_document({"providers": provider_summary(session, viewer), "flags": correction_rows(session, viewer)})
