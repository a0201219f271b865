"""Every refused API request becomes a "denial" event in the exchange log: who was refused what, and why.

The verification service logs the outcome of every question it is asked (`exchange.verify`). What never
reaches it (a wrong method) and the rest of the app go through one exception handler, which logs every
4xx except a plain 404 (no such route or record). Refusals — missing or invalid keys (401), forbidden
actions (403), another department's subscription (`NotVisible`, a 404 to the caller) — are `denial`
events (outcome `denied`, counted by the denial-spike alert). The caller's own mistakes — malformed or
invalid requests (400, 422), wrong methods (405), conflicts such as a replayed decision (409), oversized
bodies (413, from `web.limits`) — are `client_error` events (outcome `invalid`), counted apart. Then it
answers with a problem document (`web.problems`, RFC 9457), or with a page for a browser on a page route
(`web.problem_pages`). An unexpected failure answers a 500 problem. The event names the department when
its key checked out (`request.state.department`), else the department code the key claimed and the
key's id prefix and fingerprint (`presented_key`), plus the method, path, status and client address. A
log that cannot be written does not turn a refusal into an error: the refusal stands and the failure
goes to the application log.

Refusals without a valid key (401: missing or invalid key, here and in the verification API) are not
logged one by one: `refusal_window` counts them per client address and writes one aggregated event per
address and window (`exchange.log.refusals`); past the limit an address gets 429 until its window ends,
so nobody without a key can pad the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from exchange.log import EventType, ExchangeLog, RefusalWindow
from exchange.log.refusals import presented_key
from web.deps import get_session
from web.problem_fields import validation_errors
from web.problems import STATUS_CODES, problem_document, problem_response

__all__ = [
    "CALLER_MISTAKES",
    "NotVisible",
    "claimed_department",
    "install_refusal_logging",
    "log_refusal",
    "refusal_window",
]

log = logging.getLogger(__name__)

_CODES = {status: code for status, code in STATUS_CODES.items() if 400 <= status < 500 and status not in (404, 429)}


CALLER_MISTAKES = frozenset({400, 405, 409, 413, 422})
"""Statuses that say the caller got its request wrong: `client_error` events, not denials."""


class NotVisible(HTTPException):
    """A 404 that is really a refusal: the record exists but belongs to another department (logged)."""


def claimed_department(api_key: str | None) -> str | None:
    """The department code an X-API-Key names (`gh.<code>.<secret>`), unverified, for the log only."""
    parts = (api_key or "").split(".")
    return parts[1][:32] if len(parts) == 3 and parts[0] == "gh" and parts[1] else None


def log_refusal(
    app: FastAPI,
    *,
    method: str,
    path: str,
    status: int,
    code: str,
    department: str | None = None,
    claimed: str | None = None,
    details: dict[str, Any] | None = None,
    address: str | None = None,
    key: str | None = None,
) -> None:
    """Append one denial (or, for a caller's mistake, client-error) event through the app's own session
    provider (so overrides apply)."""
    provider = app.dependency_overrides.get(get_session, get_session)
    sessions: Iterator[Any] = provider()
    try:
        session = next(sessions)
        details = {"method": method, "path": path[:200], "status": status, **(details or {})}
        if address:
            details["address"] = address[:64]
        if claimed and not department:
            details["claimed_department"] = claimed
        if key and not department:
            details.update(presented_key(key))
        mistake = status in CALLER_MISTAKES
        ExchangeLog(session).append(
            EventType.CLIENT_ERROR if mistake else EventType.DENIAL,
            source="hub",
            target=f"department:{department}" if department else f"address:{address or 'unknown'}"[:128],
            department=department,
            outcome="invalid" if mistake else "denied",
            error_code=code,
            details=details,
        )
        session.commit()
    except Exception:
        log.exception("a refused %s %s (%s) could not be written to the exchange log", method, path[:200], status)
    finally:
        sessions.close()


def refusal_window(app: FastAPI) -> RefusalWindow:
    """The app's window of refusals without a valid key (made on first use), writing through its sessions."""
    window = getattr(app.state, "refusal_window", None)
    if window is None:
        from govhub.settings import get_settings

        settings = get_settings()

        def append(events: Any) -> None:
            provider = app.dependency_overrides.get(get_session, get_session)
            sessions: Iterator[Any] = provider()
            try:
                session = next(sessions)
                ExchangeLog(session).append_many(events)
                session.commit()
            finally:
                sessions.close()

        window = RefusalWindow(append, window=settings.refusal_window_seconds, limit=settings.refusal_limit)
        app.state.refusal_window = window
    return window


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _logged(exc: StarletteHTTPException | RequestValidationError) -> bool:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 422
    return 400 <= status < 500 and (status != 404 or isinstance(exc, NotVisible))


async def _record(request: Request, status: int, exc: Any) -> bool:
    """Log one refusal; False when it was one too many from an address without a valid key (answer 429)."""
    detail = getattr(exc, "detail", None)
    code = detail.get("code") if isinstance(detail, dict) and isinstance(detail.get("code"), str) else None
    if status == 401 and getattr(request.state, "department", None) is None:
        return await run_in_threadpool(
            refusal_window(request.app).note,
            _address(request),
            code=(code or "unauthenticated")[:64],
            status=status,
            path=request.url.path,
            claimed=claimed_department(request.headers.get("x-api-key")),
            key=request.headers.get("x-api-key"),
        )
    await run_in_threadpool(
        log_refusal,
        request.app,
        method=request.method,
        path=request.url.path,
        status=status,
        code="not_visible" if isinstance(exc, NotVisible) else (code or _CODES.get(status, "refused"))[:64],
        department=getattr(request.state, "department", None),
        claimed=claimed_department(request.headers.get("x-api-key")),
        address=_address(request),
        key=request.headers.get("x-api-key"),
    )
    return True


def too_many(window: RefusalWindow, instance: str = "") -> JSONResponse:
    """429 for an address past its limit of refusals without a valid key (a problem document)."""
    seconds = max(1, int(window.window))
    detail = {
        "code": "rate_limited",
        "message": f"too many requests without a valid key; retry in {seconds} s",
        "message_zh": f"无有效密钥的请求过多，请 {seconds} 秒后再试",
    }
    return problem_response(429, problem_document(429, detail, instance), headers={"Retry-After": str(seconds)})


async def _answer(request: Request, status: int, document: dict[str, Any], headers: Any = None) -> Response:
    """The problem as JSON, or as a page in the monitor's frame for a browser on a page route."""
    from web.problem_pages import problem_page, wants_page

    if wants_page(request):
        return problem_page(request, document, headers=dict(headers or {}))
    return problem_response(status, document, headers=dict(headers or {}) or None)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _logged(exc) and not await _record(request, exc.status_code, exc):
        return too_many(refusal_window(request.app), request.url.path)
    if exc.status_code < 400:  # a redirect (sign in first) is not a problem
        return await http_exception_handler(request, exc)
    document = problem_document(exc.status_code, exc.detail, request.url.path)
    return await _answer(request, exc.status_code, document, exc.headers)


async def _on_invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _logged(exc):
        await _record(request, 422, exc)
    errors = validation_errors(request.scope.get("route"), exc.errors())
    detail = {
        "code": "invalid_request",
        "message": "; ".join(e["message"] for e in errors) or "the request is not valid",
        "message_zh": "；".join(e["message_zh"] for e in errors) or "请求参数无效",
    }
    document = problem_document(422, detail, request.url.path, errors=errors)  # one field also named by `field`
    return await _answer(request, 422, document)


async def _on_crash(request: Request, exc: Exception) -> Response:
    """500 as a problem: what failed stays in the server log, never in the answer."""
    log.exception("%s %s failed", request.method, request.url.path[:200], exc_info=exc)
    return problem_response(500, problem_document(500, None, request.url.path))


def install_refusal_logging(app: FastAPI) -> None:
    """Log every refused request of `app` (see the module docstring), answering as before."""
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_invalid_request)
    app.add_exception_handler(Exception, _on_crash)
