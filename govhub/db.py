"""Migrations (Alembic) of the metadata store; the engine and sessions live in `core.db` (re-exported here)."""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from core.db import engine_for, get_engine, session_scope
from core.settings import get_settings

__all__ = ["engine_for", "get_engine", "migrate", "session_scope"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATE_LOCK = threading.Lock()  # Alembic's command API keeps global state: one upgrade at a time per process
_MIGRATE_LOCK_KEY = 0x60B1_0001  # PostgreSQL advisory lock: one upgrade at a time per database


def migrate(url: str | None = None) -> None:
    """Bring the metadata store to the newest schema (idempotent, safe at every start).

    Alembic is imported only when a migration is pending: every CLI command and runner calls this
    first, and importing Alembic costs a fresh process ~0.2 CPU s; reading `alembic_version` and
    the revision files' headers is a few milliseconds.
    """
    engine = engine_for(url or get_settings().metadata_url)
    if _stored_revisions(engine) == head_revisions():
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with _MIGRATE_LOCK, engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # processes starting together on a fresh database
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATE_LOCK_KEY})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


_HEADER = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


@cache
def head_revisions() -> frozenset[str]:
    """The newest revision(s) of the shipped migrations, read from the files' `revision` and
    `down_revision` lines (no Alembic import): those no other revision names as its parent."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        header = dict(_HEADER.findall(path.read_text(encoding="utf-8")))
        if "revision" not in header:
            continue
        revisions.add(_literal(header["revision"]))
        down = header.get("down_revision", "None")
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down))
    return frozenset(revisions - parents)


def _literal(text: str) -> str:
    match = re.fullmatch(r"[\"']([^\"']+)[\"']", text)
    if match is None:
        raise ValueError(f"cannot read the migration revision {text!r}")
    return match.group(1)


def _stored_revisions(engine: sa.Engine) -> frozenset[str] | None:
    """The revisions recorded in the store's `alembic_version` table; None when it has none yet."""
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except sa.exc.DBAPIError:  # no table yet (a new store): Alembic creates it
        return None
    return frozenset(r[0] for r in rows)
