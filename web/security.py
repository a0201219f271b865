"""Security headers on every answer: CSP with frame-ancestors, Referrer-Policy, X-Content-Type-Options.

The monitor (`/monitor`, `/static`) gets a strict Content-Security-Policy: scripts, styles, images and
connections from the hub itself only, inline scripts only with the per-request nonce the page
templates carry (`request.state.csp_nonce`), no framing, no plugins, forms posting back to the hub.
GX's Data Docs under `/monitor/data-docs` (`web.monitor.data_docs`) keep GX's inline scripts and styles
but load nothing from outside the hub either. Other pages (the verification counter and check pages,
the API docs) keep their inline styles and get the parts that break nothing: no framing, no plugins,
`base-uri 'self'`. A pure ASGI middleware, so streamed downloads pass through untouched.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "content_security_policy"]

_STRICT_PREFIXES = ("/monitor", "/static")
_DATA_DOCS = "/monitor/data-docs"  # GX's own pages: inline scripts and styles, every asset from the hub
_COMMON = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cross-origin-opener-policy": b"same-origin",
}


def content_security_policy(path: str, nonce: str) -> str:
    """The CSP for a request path (strict for the monitor, framing rules only elsewhere)."""
    if path.startswith(_DATA_DOCS):
        return (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'"
        )
    if path.startswith(_STRICT_PREFIXES):
        return (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
            "frame-ancestors 'none'"
        )
    return "frame-ancestors 'none'; object-src 'none'; base-uri 'self'"


class SecurityHeaders:
    """Adds the security headers to every HTTP answer of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["csp_nonce"] = nonce
        policy = content_security_policy(scope.get("path", ""), nonce).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _COMMON]
                headers += list(_COMMON.items())
                headers.append((b"content-security-policy", policy))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
