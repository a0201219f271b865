"""The pages behind every problem type (`/problems/<code>`): what an error means and what to do, Chinese first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web.monitor.i18n import label
from web.monitor.pages import LangDep
from web.problem_pages import render_problem, templates
from web.problems import problem, problem_codes

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/problems", response_class=HTMLResponse)
def problem_index(request: Request, lang: LangDep) -> HTMLResponse:
    """Every problem type the API answers with, each linking to its page."""
    codes = [(code, label(f"problem_{code}", lang)) for code in problem_codes()]
    return templates.TemplateResponse(
        request,
        "problem_index.html",
        {"lang": lang, "t": lambda key: label(key, lang), "codes": codes, "other": "en" if lang == "zh" else "zh"},
    )


@router.get("/problems/{code}", response_class=HTMLResponse)
def problem_type_page(code: str, request: Request, lang: LangDep) -> HTMLResponse:
    """One problem type: its title, what it means and what to do."""
    if code not in problem_codes():
        raise problem(404, "not_found", f"no problem type {code[:64]!r}", f"没有问题类型 {code[:64]}")
    return render_problem(request, code, lang)
