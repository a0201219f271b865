"""Migrations (Alembic) of the metadata store; the engine and sessions live in `core.db` (re-exported here)."""

from __future__ import annotations

import threading
from pathlib import Path

from core.db import engine_for, get_engine, session_scope
from core.settings import get_settings

__all__ = ["engine_for", "get_engine", "migrate", "session_scope"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATE_LOCK = threading.Lock()  # Alembic's command API keeps global state: one upgrade at a time per process
_MIGRATE_LOCK_KEY = 0x60B1_0001  # PostgreSQL advisory lock: one upgrade at a time per database


def migrate(url: str | None = None) -> None:
    """Bring the metadata store to the newest schema (idempotent, safe at every start).

    Alembic is imported here, not with the module: a pipeline stage needs sessions, not migrations.
    """
    from alembic import command
    from alembic.config import Config

    engine = engine_for(url or get_settings().metadata_url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with _MIGRATE_LOCK, engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # processes starting together on a fresh database
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATE_LOCK_KEY})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
