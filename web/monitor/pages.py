"""What every monitor page and API call shares: the signed-in viewer, the language and the page frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyHeader
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session

from govhub.settings import get_settings
from schemas import load_systems
from web.clock import beijing_text
from web.deps import SessionDep
from web.monitor.alerts import chain_state
from web.monitor.auth import COOKIE_NAME, Viewer, read_cookie, session_secret
from web.monitor.csrf import CSRF_COOKIE, csrf_token
from web.monitor.i18n import (
    Lang,
    coded,
    field_label,
    label,
    one_language,
    party_label,
    pick_lang,
    resource_label,
    run_error_label,
    system_label,
)
from web.monitor.queries import DIMENSIONS, client_names
from web.problems import problem

__all__ = [
    "NAV",
    "AdminDep",
    "ApiViewerDep",
    "LangDep",
    "ViewerDep",
    "api_viewer",
    "keys_dir",
    "page_viewer",
    "render",
    "secure_cookies",
]

NAV: tuple[tuple[str, str, bool], ...] = (
    ("overview", "/monitor", False),
    ("exchanges", "/monitor/exchanges", False),
    ("quality", "/monitor/quality", False),
    ("quarantine", "/monitor/quarantine", False),
    ("sharing", "/monitor/sharing", False),
    ("corrections", "/monitor/corrections", False),
    ("catalogue", "/monitor/catalogue", False),
    ("lineage", "/monitor/lineage", False),
    ("alerts", "/monitor/alerts", True),
    ("log", "/monitor/log", False),
)
"""The header's navigation: (page key = its `i18n` label, path, administrators only). A new page adds a line."""

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="DepartmentApiKey")


def keys_dir() -> Path:
    """The hub's key folder: administrators, the session secret and the hub public key live there."""
    return get_settings().keys_dir


def secure_cookies(request: Request) -> bool:
    """Whether the monitor's cookies carry `Secure`: always behind a TLS proxy, else when over https."""
    return get_settings().cookie_secure == "always" or request.url.scheme == "https"


def _lang(lang: str | None = None) -> Lang:
    return pick_lang(lang)


LangDep = Annotated[Lang, Depends(_lang)]


def _cookie_viewer(request: Request, session: Session) -> Viewer | None:
    return read_cookie(keys_dir(), request.cookies.get(COOKIE_NAME), session)


def page_viewer(request: Request, session: SessionDep) -> Viewer:
    """The signed-in viewer of a page; without a valid session, a redirect (302) to the sign-in form."""
    viewer = _cookie_viewer(request, session)
    if viewer is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = "/monitor/login?" + urlencode({"next": target})
        raise HTTPException(status.HTTP_302_FOUND, detail="sign in first — 请先登录", headers={"Location": location})
    return viewer


def api_viewer(request: Request, session: SessionDep, api_key: Annotated[str | None, Depends(_api_key)]) -> Viewer:
    """The viewer of an API call: the session cookie, or a department's X-API-Key; else 401."""
    viewer = _cookie_viewer(request, session)
    if viewer is None and api_key:
        from catalog import authenticate

        department = authenticate(session, api_key)
        if department is not None:
            viewer = Viewer("department", department.name, department.code, (department.code, department.name))
            request.state.department = department.code
    if viewer is None:
        raise problem(
            status.HTTP_401_UNAUTHORIZED,
            "unauthenticated",
            "sign in at /monitor/login or send X-API-Key",
            "请先登录监控页面，或在请求头 X-API-Key 提供部门 API 密钥",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    return viewer


ViewerDep = Annotated[Viewer, Depends(page_viewer)]
ApiViewerDep = Annotated[Viewer, Depends(api_viewer)]


def _admin(viewer: ViewerDep) -> Viewer:
    if not viewer.is_admin:
        raise problem(
            status.HTTP_403_FORBIDDEN,
            "admins_only",
            "data administrators only: sign in to the monitor as an administrator",
            "仅限数据管理员：请以管理员账号登录监控",
        )
    return viewer


AdminDep = Annotated[Viewer, Depends(_admin)]


def _number(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,}"


def _as_json(value: Any) -> Markup:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


templates.env.filters["when"] = beijing_text
templates.env.filters["num"] = _number
templates.env.filters["json"] = _as_json


def _chart_names(session: Session | None, lang: Lang) -> dict[str, str]:
    """Words for the codes the charts' data is keyed by: quality dimensions, source systems, clients."""
    names = {d: label(f"dim_{d}", lang) for d in DIMENSIONS}
    names |= {system: system_label(system, lang) for system in load_systems()}
    if session is not None:
        names |= client_names(session)
    return names


def render(
    request: Request,
    name: str,
    *,
    viewer: Viewer | None,
    session: Session | None,
    lang: Lang,
    page: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A monitor page in the shared frame: navigation, the signed-in viewer and the chain's state."""
    chain = chain_state(session, keys_dir=keys_dir()) if session is not None and viewer is not None else None

    def t(key: str, **params: Any) -> str:
        return label(key, lang, **params)

    def link(path: str, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        if lang == "en":
            query["lang"] = "en"
        return path + (f"?{urlencode(query)}" if query else "")

    other = dict(request.query_params)
    other["lang"] = "zh" if lang == "en" else "en"
    token, fresh_cookie = csrf_token(request, session_secret(keys_dir()))
    response = templates.TemplateResponse(
        request,
        name,
        {
            "viewer": viewer,
            "lang": lang,
            "t": t,
            "link": link,
            "chain": chain,
            "page": page,
            "nav": [
                (key, path)
                for key, path, admin_only in NAV
                if viewer is not None and (viewer.is_admin or not admin_only)
            ],
            "switch_lang": request.url.path + "?" + urlencode(other),
            # names of codes, from the one catalogue and the contracts (pages show no raw identifiers)
            "code": lambda prefix, value: coded(prefix, value, lang),
            "res": lambda resource: resource_label(resource, lang),
            "fld": lambda resource, field: field_label(resource, field, lang),
            "sys": lambda system: system_label(system, lang),
            "party": lambda value, names=None: party_label(value, lang, names),
            "runerr": lambda error: run_error_label(error, lang),
            "both": lambda text: one_language(text, lang),
            "chart_names": _chart_names(session, lang),
            "csrf_token": token,
            "csp_nonce": getattr(request.state, "csp_nonce", ""),
            **context,
        },
        status_code=status_code,
    )
    if fresh_cookie is not None:
        response.set_cookie(
            CSRF_COOKIE, fresh_cookie, httponly=True, samesite="strict", secure=secure_cookies(request), path="/monitor"
        )
    return response
