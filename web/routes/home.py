"""The landing page `/` (Chinese first): links to the monitor, the API docs, the check page and the public key."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from web.monitor.i18n import label
from web.monitor.pages import LangDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/", response_class=HTMLResponse)
def landing(request: Request, lang: LangDep) -> HTMLResponse:
    """Where a civil servant or an integrator starts: every door of the hub, in their language."""
    return _templates.TemplateResponse(
        request,
        "home.html",
        {"lang": lang, "t": lambda key: label(key, lang), "other": "en" if lang == "zh" else "zh"},
    )
