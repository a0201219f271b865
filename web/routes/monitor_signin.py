"""Monitor sign-in and sign-out: CSRF-checked forms, throttled failures, sessions revoked on the server.

GET|POST /monitor/login    administrators (user name + password) or departments (API key)
POST     /monitor/logout   revokes the session id, so a kept copy of the cookie stops working
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from govhub.settings import get_settings
from web.deps import SessionDep
from web.monitor.auth import (
    COOKIE_NAME,
    SESSION_SECONDS,
    check_admin,
    read_cookie,
    session_secret,
    sign_in_department,
    write_cookie,
)
from web.monitor.csrf import csrf_valid
from web.monitor.i18n import Lang
from web.monitor.pages import LangDep, keys_dir, render, secure_cookies
from web.monitor.sessions import new_session_id, revoke_session
from web.monitor.throttle import SignInThrottle
from web.problems import problem
from web.refusals import claimed_department, log_refusal

__all__ = ["router"]

router = APIRouter(prefix="/monitor", tags=["monitor"])
_PAGE = HTMLResponse


def _login_page(request: Request, lang: Lang, next: str, *, failed: str | None, status_code: int = 200) -> HTMLResponse:
    return render(
        request,
        "monitor_login.html",
        viewer=None,
        session=None,
        lang=lang,
        page="login",
        next=next,
        failed=failed,
        status_code=status_code,
    )


def _throttle(request: Request) -> SignInThrottle:
    """The app's sign-in throttle (one per app; its counters live where GOVHUB_RATE_LIMIT_STORAGE says)."""
    throttle = getattr(request.app.state, "signin_throttle", None)
    if throttle is None:
        throttle = request.app.state.signin_throttle = SignInThrottle(get_settings().rate_limit_storage)
    return throttle


@router.get("/login", response_class=_PAGE, include_in_schema=False)
def login_form(request: Request, lang: LangDep, next: str = "/monitor") -> HTMLResponse:
    return _login_page(request, lang, next, failed=None)


@router.post("/login", response_class=_PAGE, include_in_schema=False)
def login(
    request: Request,
    session: SessionDep,
    lang: LangDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    api_key: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/monitor",
    csrf_token: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Sign in as an administrator (user name and password) or as a department (its API key).

    Needs the form's CSRF token; failures are throttled per account and per address (`web.monitor.throttle`).
    """
    refuse = partial(log_refusal, request.app, method="POST", path=request.url.path)
    if not csrf_valid(request, session_secret(keys_dir()), csrf_token):
        refuse(status=403, code="csrf_failed")
        return _login_page(request, lang, next, failed="csrf_failed", status_code=403)
    account = f"admin:{username.strip()}" if username else f"department:{claimed_department(api_key) or 'unknown'}"
    address = request.client.host if request.client else "unknown"
    throttle = _throttle(request)
    blocked = throttle.blocked(account, address)
    if blocked is not None:
        refuse(
            status=429,
            code=f"login_{blocked.tier}",
            details={"account": account, "address": address, "scope": blocked.scope},
        )
        answer = _login_page(request, lang, next, failed="login_throttled", status_code=429)
        answer.headers["Retry-After"] = str(blocked.retry_after)
        return answer
    payload = None
    if username and password:
        fingerprint = check_admin(keys_dir(), username, password)
        payload = {"k": "admin", "u": username, "f": fingerprint} if fingerprint else None
    elif api_key:
        found = sign_in_department(session, api_key)
        payload = {"k": "department", "c": found[0].code, "f": found[1]} if found else None
    if payload is None:
        reached = throttle.failed(account, address)
        refuse(status=401, code="login_failed", details={"account": account, "address": address})
        if reached is not None and reached.tier == "lockout":  # the audit event of a lock-out, once
            refuse(
                status=429,
                code="login_locked",
                details={
                    "account": account,
                    "address": address,
                    "scope": reached.scope,
                    "locked_seconds": reached.retry_after,
                },
            )
        return _login_page(request, lang, next, failed="login_failed", status_code=401)
    throttle.succeeded(account)
    payload["s"] = new_session_id()
    target = next if next.startswith("/monitor") and not next.startswith("//") else "/monitor"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        write_cookie(keys_dir(), payload),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/monitor",
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout(
    request: Request, session: SessionDep, csrf_token: Annotated[str, Form(max_length=500)] = ""
) -> RedirectResponse:
    """Sign out: the session id is revoked on the server, so a kept copy of the cookie no longer works."""
    if not csrf_valid(request, session_secret(keys_dir()), csrf_token):
        log_refusal(request.app, method="POST", path=request.url.path, status=403, code="csrf_failed")
        raise problem(403, "csrf_failed", "the sign-out form expired: reload the page", "页面已过期，请刷新后再退出")
    viewer = read_cookie(keys_dir(), request.cookies.get(COOKIE_NAME), session)
    if viewer is not None and viewer.session_id:
        revoke_session(session, viewer.session_id, lifetime_seconds=SESSION_SECONDS)
        session.commit()
    response = RedirectResponse("/monitor/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/monitor")
    return response
