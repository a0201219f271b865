"""The monitor's corrections page (数据纠错): open flags with their age, outcomes per provider, overdue ones.

GET /monitor/corrections       an administrator sees every flag; a department those it raised or must answer.
GET /monitor/api/corrections   the same as JSON (session cookie or X-API-Key), Beijing times.
POST /monitor/corrections/{id}/decision   the provider confirms or rejects (reasons required to reject),
                                          with the page's CSRF token; the same rule as the API and CLI
                                          (`govhub.corrections.decide_logged`), logged the same way.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from exchange.log import ExchangeLog
from govhub.corrections import decide_logged
from schemas import GovhubError
from web.clock import beijing_document
from web.deps import SessionDep
from web.monitor.api_models import MonitorCorrections
from web.monitor.auth import Viewer, session_secret
from web.monitor.corrections import correction_rows, provider_summary
from web.monitor.csrf import csrf_valid
from web.monitor.i18n import Lang, label
from web.monitor.pages import ApiViewerDep, LangDep, ViewerDep, keys_dir, render
from web.problems import problem

__all__ = ["router"]

router = APIRouter(prefix="/monitor", tags=["monitor"])


def _page(
    request: Request, session: SessionDep, viewer: Viewer, lang: Lang, *, done: str = "", error: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "monitor_corrections.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="corrections",
        flags=correction_rows(session, viewer),
        providers=provider_summary(session, viewer),
        done=done if done in ("confirm", "reject") else "",
        error=error,
        status_code=422 if error else 200,
    )


@router.get("/corrections", response_class=HTMLResponse, include_in_schema=False)
def corrections(
    request: Request, session: SessionDep, viewer: ViewerDep, lang: LangDep, done: str = ""
) -> HTMLResponse:
    return _page(request, session, viewer, lang, done=done)


@router.post("/corrections/{flag_id}/decision", response_class=HTMLResponse, include_in_schema=False)
def decide_in_browser(
    request: Request,
    flag_id: int,
    session: SessionDep,
    viewer: ViewerDep,
    lang: LangDep,
    decision: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Confirm or reject as the provider department; an error is shown back on the page (nothing saved)."""
    if not csrf_valid(request, session_secret(keys_dir()), csrf_token):
        raise problem(
            status.HTTP_403_FORBIDDEN, "csrf_failed", label("approval_cross_site", "en"), label("approval_cross_site")
        )
    if decision not in ("confirm", "reject"):
        return _page(request, session, viewer, lang, error=label("correction_choose", lang))
    actor = viewer.department_code if not viewer.is_admin and viewer.department_code else f"admin:{viewer.name}"
    try:
        decide_logged(
            session,
            flag_id,
            actor_department=actor,
            confirm=decision == "confirm",
            reason=reason.strip() or None,
            exchange_log=ExchangeLog(session),
        )
        session.commit()
    except GovhubError as e:
        session.rollback()
        message = str(e) if lang == "en" else getattr(e, "message_zh", None) or label("approval_failed", lang)
        return _page(request, session, viewer, lang, error=message)
    suffix = "&lang=en" if lang == "en" else ""
    return RedirectResponse(f"/monitor/corrections?done={decision}{suffix}", status_code=303)


@router.get(
    "/api/corrections",
    tags=["monitor"],
    summary="数据纠错 — data corrections by provider, and the flags (校核纠错)",
    response_model=MonitorCorrections,
    responses={401: {"description": "Not signed in and no valid X-API-Key (未登录或 API 密钥无效)"}},
)
def api_corrections(session: SessionDep, viewer: ApiViewerDep) -> dict[str, Any]:
    """Per providing department the flags by outcome and the oldest open one; every visible flag with its age."""
    return beijing_document({"providers": provider_summary(session, viewer), "flags": correction_rows(session, viewer)})
