"""The printable access-record page's link: an opaque token that names the subject only to the hub.

Token = base64url(nonce ‖ AES-256-GCM(`{"s": subject, "k": kind, "e": expiry}`)) under a hub secret
(`<keys>/access-link.secret`): the ID never appears in the address, a changed character opens nothing,
and the link stops working at its expiry (`LINK_SECONDS` after the record was served).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exchange.access.assertion import SUBJECT_KINDS, SubjectKind

__all__ = ["LINK_SECONDS", "LinkedSubject", "open_link", "seal_link"]

LINK_SECONDS = 1800  # half an hour to open and print the page
_AAD = b"govhub-access-record-link/1"


@dataclass(frozen=True)
class LinkedSubject:
    """Whom a valid link shows the record of, and until when (epoch seconds)."""

    subject: str
    kind: SubjectKind
    expires: int


def seal_link(secret: bytes, subject: str, kind: SubjectKind, *, now: float | None = None) -> str:
    """The token of a link to `subject`'s printable record, valid `LINK_SECONDS` from `now`."""
    expires = int((time.time() if now is None else now) + LINK_SECONDS)
    payload = json.dumps({"s": subject, "k": kind, "e": expires}, separators=(",", ":")).encode("utf-8")
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(secret[:32]).encrypt(nonce, payload, _AAD)
    return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")


def open_link(secret: bytes, token: str, *, now: float | None = None) -> LinkedSubject | None:
    """The subject behind a token, or None when it is malformed, altered, under another secret or expired."""
    if not token or len(token) > 512:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(AESGCM(secret[:32]).decrypt(raw[:12], raw[12:], _AAD))
    except (ValueError, InvalidTag, UnicodeDecodeError):
        return None
    subject, kind, expires = payload.get("s"), payload.get("k"), payload.get("e")
    if not isinstance(subject, str) or kind not in SUBJECT_KINDS or not isinstance(expires, int):
        return None
    if expires < (time.time() if now is None else now):
        return None
    return LinkedSubject(subject, kind, expires)
