"""The person's printable access record (HTML, Chinese first, Beijing time, nothing loaded from outside)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from core.time import beijing_now
from exchange.access import AccessRecord
from web.clock import beijing_text
from web.monitor.i18n import Lang, coded, field_label, label, resource_label, texts

__all__ = ["answer_text", "render_missing_page", "render_record_page"]

_templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


def answer_text(answer: dict[str, Any], resource: str | None, lang: Lang) -> str:
    """What the approval system was told, in words: matches / does not match / no record / the items disclosed."""
    if "match" in answer:
        return label("ar_match_yes" if answer["match"] else "ar_match_no", lang)
    if answer.get("found") is False:
        return label("ar_found_no", lang)
    if answer.get("fields"):
        sep = "、" if lang == "zh" else ", "
        return label("ar_fields", lang, fields=sep.join(field_label(resource, f, lang) for f in answer["fields"]))
    return label("ar_answered", lang)


def _versions(start: int | None, to: int, lang: Lang) -> str:
    if start is None:
        return label("ar_snapshot", lang, to=to)
    return label("ar_range", lang, start=start + 1, to=to)


def render_record_page(
    request: Request, record: AccessRecord, *, masked: str, lang: Lang, headers: dict[str, str]
) -> HTMLResponse:
    """The record as a printable page."""
    queries = [
        {
            "at": beijing_text(q.at, seconds=True),
            "client": q.client_name,
            "item": q.item_name if lang == "zh" else q.item_name_en,
            "case": q.case_number or "—",
            "purpose": q.purpose or "—",
            "answer": answer_text(q.answer, q.resource, lang),
        }
        for q in record.queries
    ]
    deliveries = [
        {
            "at": beijing_text(d.at, seconds=True),
            "department": d.department_name,
            "resource": resource_label(d.resource, lang),
            "purpose": d.purpose or "—",
            "mode": coded("mode", d.mode, lang),
            "versions": _versions(d.from_version, d.to_version, lang),
        }
        for d in record.deliveries
    ]
    context = {
        "t": texts("ar_", lang),
        "lang": lang,
        "other_lang": "en" if lang == "zh" else "zh",
        "missing": False,
        "masked": masked,
        "kind": label(f"ar_kind_{record.kind}", lang),
        "generated": beijing_text(beijing_now(), seconds=True),
        "queries": queries,
        "deliveries": deliveries,
        "truncated": record.truncated,
    }
    return _templates.TemplateResponse(request, "access_record.html", context, headers=headers)


def render_missing_page(
    request: Request, *, lang: Lang, headers: dict[str, str], unavailable: bool = False
) -> HTMLResponse:
    """The page for a link that is not valid (altered, under another secret) or has expired: 404; or, with
    `unavailable`, for a record withheld because the exchange log could not be written: 503."""
    t = texts("ar_", lang)
    context = {
        "t": t,
        "lang": lang,
        "other_lang": "en" if lang == "zh" else "zh",
        "missing": True,
        "heading": t["unavailable"] if unavailable else t["missing"],
        "hint": t["unavailable_hint"] if unavailable else t["missing_hint"],
    }
    status = 503 if unavailable else 404
    return _templates.TemplateResponse(request, "access_record.html", context, status_code=status, headers=headers)
