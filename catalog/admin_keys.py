"""API keys of the sharing authority (the hub's administrators, `HUB_ADMIN`): decide disputes through the API.

A key looks like `gha.<name>.<secret>` and is stored as a salted scrypt hash, as department keys are
(`catalog.credentials`); issuing again replaces (and so revokes) the named key. A department key can
never act as the authority: the two kinds have their own table, header and prefix.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from catalog.credentials import hash_secret, secret_matches
from catalog.db import Base, utcnow
from catalog.errors import CatalogError

__all__ = [
    "ADMIN_KEY_PREFIX",
    "AdminKey",
    "authenticate_admin",
    "issue_admin_key",
    "list_admin_keys",
    "revoke_admin_key",
]

log = logging.getLogger(__name__)

ADMIN_KEY_PREFIX = "gha"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class AdminKey(Base):
    """One named API key of the sharing authority (an administrator or a tool acting for it)."""

    __tablename__ = "admin_api_key"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def issue_admin_key(session: Session, name: str) -> str:
    """A new key for `name` (letters, digits, `-`, `_`; at most 32), returned once in plain text."""
    if not _NAME.match(name or ""):
        raise CatalogError(
            f"admin key name {name!r} is not valid: use 1-32 letters, digits, '-' or '_' (e.g. zhang-wei)",
            message_zh=f"管理员密钥名称 {name!r} 无效：只能使用 1-32 个字母、数字、- 或 _（如 zhang-wei）",
            field="name",
        )
    secret = secrets.token_urlsafe(32)
    key = session.get(AdminKey, name)
    if key is None:
        key = AdminKey(name=name)
        session.add(key)
    key.key_hash, key.active, key.issued_at = hash_secret(secret), True, utcnow()
    session.flush()
    log.info("issued a new admin API key %s", name)
    return f"{ADMIN_KEY_PREFIX}.{name}.{secret}"


def revoke_admin_key(session: Session, name: str) -> None:
    """Stop the named key from working; unknown names raise `CatalogError(not_found)`."""
    key = session.get(AdminKey, name)
    if key is None:
        raise CatalogError(
            f"no admin API key named {name!r}; `govhub admin list-keys` lists them",
            message_zh=f"不存在名为 {name!r} 的管理员密钥（`govhub admin list-keys` 列出全部）",
            kind="not_found",
        )
    key.active = False
    session.flush()


def list_admin_keys(session: Session) -> list[AdminKey]:
    """Every admin key, by name (hashes only)."""
    return list(session.scalars(select(AdminKey).order_by(AdminKey.name)))


def authenticate_admin(session: Session, api_key: str | None) -> AdminKey | None:
    """The active admin key matching `api_key`, or None (forged, revoked, malformed, or a department key)."""
    prefix, _, rest = (api_key or "").partition(".")
    name, _, secret = rest.partition(".")
    key = session.get(AdminKey, name) if prefix == ADMIN_KEY_PREFIX and name and secret else None
    if key is None:
        hash_secret(secret or "-")  # the same time as a real check, so timing does not reveal names
        return None
    try:
        matches = secret_matches(secret, key.key_hash)
    except ValueError:
        log.warning("admin API key %s has a malformed stored hash; issue a new key", name)
        return None
    return key if matches and key.active else None
