"""CSRF tokens for the monitor's forms (sign-in included) and cookie-authenticated API writes.

A signed double-submit token: a random value in the HttpOnly, SameSite=Strict cookie `govhub_csrf`
(path /monitor), and the same value, signed with the monitor's session secret, in each form's hidden
`csrf_token` field (or the `X-CSRF-Token` header). A cross-site page can neither read the cookie nor
forge the signature, so it cannot post a sign-in (login CSRF), a sign-out or an admin change.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from itsdangerous import BadSignature, URLSafeSerializer

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CSRF_HEADER", "csrf_token", "csrf_valid"]

CSRF_COOKIE = "govhub_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def _signer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="govhub.monitor.csrf")


def csrf_token(request: Request, secret: str) -> tuple[str, str | None]:
    """(token for the page's forms, new cookie value to set or None when the browser already has one)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    fresh = None
    if not cookie or len(cookie) != 43:
        cookie = fresh = secrets.token_urlsafe(32)
    return _signer(secret).dumps(cookie), fresh


def csrf_valid(request: Request, secret: str, submitted: str | None) -> bool:
    """True when the submitted token is ours and matches this browser's CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted:
        return False
    try:
        value = _signer(secret).loads(submitted)
    except BadSignature:
        return False
    return isinstance(value, str) and hmac.compare_digest(value, cookie)
