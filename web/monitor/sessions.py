"""Monitor sessions revoked on the server: a signed-out cookie stops working even if someone kept it.

Each sign-in gets a random session id inside its signed cookie; signing out records the id here until
the cookie would have expired anyway, and every request checks the id (one primary-key lookup).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import DateTime, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from catalog.db import Base, utcnow

__all__ = ["RevokedSession", "is_revoked", "new_session_id", "revoke_session"]


class RevokedSession(Base):
    """A signed-out monitor session, kept until its cookie would have expired."""

    __tablename__ = "monitor_revoked_session"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def new_session_id() -> str:
    """A fresh, unguessable session id (256 bits)."""
    return secrets.token_urlsafe(32)


def revoke_session(session: Session, sid: str, *, lifetime_seconds: int) -> None:
    """Record `sid` as signed out (idempotent) and forget revocations whose cookies have expired."""
    now = utcnow()
    session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    if session.get(RevokedSession, sid) is None:
        session.add(RevokedSession(sid=sid, revoked_at=now, expires_at=now + timedelta(seconds=lifetime_seconds)))
    session.flush()


def is_revoked(session: Session, sid: str) -> bool:
    """True when the session was signed out."""
    return session.get(RevokedSession, sid) is not None
