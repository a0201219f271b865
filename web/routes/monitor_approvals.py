"""Approvals in the browser: a provider department reads an application and grants or refuses it with reasons.

GET  /monitor/catalogue               the resource catalogue, for departments to browse
GET|POST /monitor/catalogue/{resource}/apply   a department applies: fields, purpose, legal basis, delivery mode
GET  /monitor/sharing/{id}            the application: fields asked for (personal information marked), purpose,
                                      legal basis, working days left; the decision form for its provider
POST /monitor/sharing/{id}/decision   grant or refuse (reasons required to refuse), as the provider department

The decision goes through `catalog.decide`, the same rule the API and CLI follow (provider only, pending only,
refusals need reasons) and is written to the application's history. Every form carries the monitor's CSRF
token (`web.monitor.csrf`); a post without this browser's token is refused (403).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import CatalogAccessDenied, CatalogError, Resource, Subscription, apply, decide, get_resource
from catalog.workdays import BEIJING, calendar_basis, is_working_day
from schemas import load_all
from web.clock import to_beijing
from web.deps import SessionDep
from web.monitor.auth import session_secret
from web.monitor.csrf import csrf_valid
from web.monitor.i18n import label
from web.monitor.pages import LangDep, ViewerDep, keys_dir, render
from web.monitor.queries import department_names
from web.problems import problem

__all__ = ["due_is_provisional", "router", "working_days_left"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/monitor", include_in_schema=False)


def working_days_left(due: datetime | None, now: datetime) -> int | None:
    """Working days from today (Beijing) to the due day, the due day counted; negative once it has passed."""
    if due is None:
        return None
    today, last = to_beijing(now).date(), to_beijing(due).date()
    if last < today:
        return -sum(1 for n in range(1, (today - last).days + 1) if is_working_day(last + timedelta(days=n)))
    return sum(1 for n in range(1, (last - today).days + 1) if is_working_day(today + timedelta(days=n)))


def due_is_provisional(applied: datetime | None, due: datetime | None) -> bool:
    """The deadline counts days of a year without an official holiday arrangement (`catalog.workdays`)."""
    if applied is None or due is None:
        return False
    years = range(to_beijing(applied).year, to_beijing(due).year + 1)
    return any(calendar_basis(year) == "provisional" for year in years)


def _pii(field: Any) -> str | None:
    kind = getattr(field, "pii", None)
    return kind if kind and kind != "none" else None


def _same_origin(request: Request, token: str) -> bool:
    """A form post from the hub's own pages: it carries this browser's CSRF token (`web.monitor.csrf`)."""
    return csrf_valid(request, session_secret(keys_dir()), token)


def _application(session: Session, subscription_id: int, lang: str) -> tuple[Subscription, dict[str, Any]]:
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise problem(
            status.HTTP_404_NOT_FOUND, "not_found", label("approval_not_found", "en"), label("approval_not_found")
        )
    entry = get_resource(session, sub.resource)
    contract = load_all()[sub.resource]
    by_name = {f.name: f for f in contract.fields}
    names = department_names(session)
    now = datetime.now(BEIJING)
    fields = [
        {
            "name": name,
            "label": (by_name[name].label_en if lang == "en" else by_name[name].label) if name in by_name else name,
            "pii": _pii(by_name.get(name)),
        }
        for name in sub.fields
    ]
    view = {
        "id": sub.id,
        "status": sub.status,
        "resource": sub.resource,
        "resource_code": entry.code,
        "provider_code": entry.provider_code,
        "provider": names.get(entry.provider_code, entry.provider_code),
        "department": names.get(sub.department_code, sub.department_code),
        "department_code": sub.department_code,
        "purpose": sub.purpose,
        "legal_basis": sub.legal_basis,
        "fields": fields,
        "pii_access": sub.pii_access,
        "pii_fields": [f for f in fields if f["pii"]],
        "mode": sub.delivery_mode,
        "applied_at": sub.applied_at,
        "due_at": sub.due_at,
        "days_left": working_days_left(sub.due_at, now) if sub.status == "pending" else None,
        "due_provisional": due_is_provisional(sub.applied_at, sub.due_at),
        "decided_at": sub.decided_at,
        "decided_by": names.get(sub.decided_by or "", sub.decided_by),
        "refusal_reason": sub.refusal_reason,
        "sharing_type": entry.sharing_type,
        "events": [
            {"action": e.action, "actor": names.get(e.actor, e.actor), "at": e.at, "note": e.note} for e in sub.events
        ],
    }
    return sub, view


def _may_see(viewer: Any, view: dict[str, Any]) -> bool:
    return viewer.is_admin or viewer.department_code in (view["provider_code"], view["department_code"])


@router.get("/sharing/{subscription_id}", response_class=HTMLResponse)
def application_page(
    request: Request, subscription_id: int, session: SessionDep, viewer: ViewerDep, lang: LangDep, done: str = ""
) -> HTMLResponse:
    """One application as its provider decides on it (the applicant and administrators read it)."""
    _, view = _application(session, subscription_id, lang)
    if not _may_see(viewer, view):
        raise problem(
            status.HTTP_404_NOT_FOUND, "not_found", label("approval_not_found", "en"), label("approval_not_found")
        )
    return render(
        request,
        "monitor_approval.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="sharing",
        app=view,
        may_decide=view["status"] == "pending" and viewer.department_code == view["provider_code"],
        done=done,
        error=None,
    )


@router.post("/sharing/{subscription_id}/decision", response_class=HTMLResponse)
def decide_in_browser(
    request: Request,
    subscription_id: int,
    session: SessionDep,
    viewer: ViewerDep,
    lang: LangDep,
    decision: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Grant or refuse as the provider department; a refusal without reasons is shown back, not saved."""
    if not _same_origin(request, csrf_token):
        raise problem(
            status.HTTP_403_FORBIDDEN, "csrf_failed", label("approval_cross_site", "en"), label("approval_cross_site")
        )
    _, view = _application(session, subscription_id, lang)
    if not _may_see(viewer, view):
        raise problem(
            status.HTTP_404_NOT_FOUND, "not_found", label("approval_not_found", "en"), label("approval_not_found")
        )
    error = None
    if decision not in ("approve", "refuse"):
        error = label("approval_choose", lang)
    elif viewer.is_admin or viewer.department_code is None:
        error = label("approval_provider_only", lang, provider=view["provider"])
    else:
        try:
            decide(
                session,
                subscription_id,
                actor_department=viewer.department_code,
                approve=decision == "approve",
                reason=reason.strip() or None,
            )
            session.commit()
        except (CatalogError, CatalogAccessDenied) as e:
            session.rollback()
            error = str(e) if lang == "en" else getattr(e, "message_zh", None) or label("approval_failed", lang)
    if error is None:
        suffix = "&lang=en" if lang == "en" else ""
        return RedirectResponse(f"/monitor/sharing/{subscription_id}?done={decision}{suffix}", status_code=303)
    _, view = _application(session, subscription_id, lang)
    return render(
        request,
        "monitor_approval.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="sharing",
        app=view,
        may_decide=view["status"] == "pending" and viewer.department_code == view["provider_code"],
        done="",
        error=error,
        reason=reason,
        status_code=422,
    )


_BROWSER_MODES = ("file", "api")  # database deliveries name a registered target: the API and CLI set those up


@router.get("/catalogue", response_class=HTMLResponse)
def catalogue_page(request: Request, session: SessionDep, viewer: ViewerDep, lang: LangDep) -> HTMLResponse:
    """Every resource of the catalogue: provider, sharing type, update cycle; departments apply from here."""
    resources = session.scalars(select(Resource).order_by(Resource.code)).all()
    return render(
        request,
        "monitor_catalogue.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="catalogue",
        resources=resources,
    )


def _fields(resource: str, lang: str) -> list[dict[str, Any]]:
    contract = load_all()[resource]
    return [
        {
            "name": f.name,
            "label": f.label_en if lang == "en" else f.label,
            "pii": _pii(f),
            "key": f.name in contract.primary_key,
        }
        for f in contract.fields
    ]


def _apply_form(request: Request, session: Session, viewer: Any, lang: Any, resource: str, **extra: Any) -> Response:
    try:
        entry = get_resource(session, resource)
    except CatalogError as e:
        raise problem(
            status.HTTP_404_NOT_FOUND, "not_found", label("approval_not_found", "en"), label("approval_not_found")
        ) from e
    return render(
        request,
        "monitor_apply.html",
        viewer=viewer,
        session=session,
        lang=lang,
        page="catalogue",
        entry=entry,
        fields=_fields(entry.resource, lang),
        modes=_BROWSER_MODES,
        **extra,
    )


@router.get("/catalogue/{resource}/apply", response_class=HTMLResponse)
def apply_page(request: Request, resource: str, session: SessionDep, viewer: ViewerDep, lang: LangDep) -> Response:
    """The application form of one resource (departments only)."""
    return _apply_form(request, session, viewer, lang, resource, error=None, form={})


@router.post("/catalogue/{resource}/apply", response_class=HTMLResponse)
def apply_in_browser(
    request: Request,
    resource: str,
    session: SessionDep,
    viewer: ViewerDep,
    lang: LangDep,
    purpose: Annotated[str, Form(max_length=2000)] = "",
    legal_basis: Annotated[str, Form(max_length=2000)] = "",
    scope: Annotated[str, Form(max_length=2000)] = "",
    valid_until: Annotated[str, Form(max_length=10)] = "",
    field: Annotated[list[str] | None, Form()] = None,
    delivery_mode: Annotated[str, Form()] = "file",
    pii_access: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Apply as the signed-in department; on success, the application's page (pending, or granted at once)."""
    if not _same_origin(request, csrf_token):
        raise problem(
            status.HTTP_403_FORBIDDEN, "csrf_failed", label("approval_cross_site", "en"), label("approval_cross_site")
        )
    form = {
        "purpose": purpose,
        "legal_basis": legal_basis,
        "scope": scope,
        "valid_until": valid_until,
        "fields": field or [],
        "mode": delivery_mode,
        "pii": pii_access,
    }
    if viewer.department_code is None:
        error = label("apply_departments_only", lang)
    elif delivery_mode not in _BROWSER_MODES:
        error = label("apply_bad_mode", lang)
    elif valid_until.strip() and _term(valid_until) is None:
        error = label("apply_bad_term", lang)
    else:
        try:
            sub = apply(
                session,
                department_code=viewer.department_code,
                resource=resource,
                purpose=purpose,
                legal_basis=legal_basis,
                fields=field or [],
                pii_access=pii_access,
                delivery_mode=delivery_mode,  # type: ignore[arg-type]
                scope=scope,
                valid_until=_term(valid_until),
                strict=True,
            )
            session.commit()
        except (CatalogError, CatalogAccessDenied) as e:
            session.rollback()
            error = str(e) if lang == "en" else getattr(e, "message_zh", None) or label("approval_failed", lang)
        else:
            suffix = "?lang=en" if lang == "en" else ""
            return RedirectResponse(f"/monitor/sharing/{sub.id}{suffix}", status_code=303)
    return _apply_form(request, session, viewer, lang, resource, error=error, form=form, status_code=422)


def _term(text: str) -> date | None:
    """The form's 使用期限 (an ISO date from the date input); None when missing or not a date (`apply` names it)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None
