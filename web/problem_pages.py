"""Problems for people: the page under each problem type (`/problems/<code>`) and errors of browser pages.

An API client gets the problem document; a browser asking for a page route (the monitor, the check and
answer pages) gets the same problem as a page, Chinese first, linking to the problem type's page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from web.monitor.i18n import Lang, label, pick_lang

__all__ = ["problem_page", "render_problem", "templates", "wants_page"]

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
_LATIN = re.compile(r"`([^`]+)`|([A-Za-z][A-Za-z0-9_./:+-]*[A-Za-z0-9])")


def _code_spans(text: str, lang: Lang) -> Markup:
    """`name` as code; on a Chinese page every Latin token too (API names, headers, commands stay as they are)."""

    def span(match: re.Match[str]) -> str:
        quoted, word = match.groups()
        if quoted is None and lang == "en":
            return str(escape(word))
        return f'<code translate="no">{escape(quoted or word)}</code>'

    parts, last = [], 0
    for match in _LATIN.finditer(text):
        parts.append(str(escape(text[last : match.start()])))
        parts.append(span(match))
        last = match.end()
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts))


templates.env.filters["codes"] = _code_spans
_API_PREFIXES = ("/api/", "/monitor/api/", "/openapi.json")
_PAGE_HEADERS = {"Cache-Control": "no-store"}


def wants_page(request: Request) -> bool:
    """A browser on a page route: not an API path, and HTML is what it accepts first."""
    if request.url.path.startswith(_API_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept.split(",")[0]


def render_problem(
    request: Request,
    code: str,
    lang: Lang,
    *,
    status_code: int = 200,
    occurrence: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page of problem type `code`; with `occurrence`, the error a browser met, above the explanation."""
    context = {
        "lang": lang,
        "t": lambda key, **params: label(key, lang, **params),
        "code": code,
        "occurrence": occurrence,
        "other": "en" if lang == "zh" else "zh",
    }
    return templates.TemplateResponse(
        request, "problem_page.html", context, status_code=status_code, headers={**_PAGE_HEADERS, **(headers or {})}
    )


def problem_page(request: Request, document: dict[str, Any], *, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A problem met by a browser, as a page with the document's status (Location and Retry-After kept)."""
    lang = pick_lang(request.query_params.get("lang"))
    code = document["type"].rsplit("/", 1)[-1]
    return render_problem(
        request, code, lang, status_code=int(document["status"]), occurrence=document, headers=headers
    )
