"""The metadata engine, sessions and migrations (Alembic), one engine per URL and process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from govhub.settings import get_settings

__all__ = ["engine_for", "get_engine", "migrate", "session_scope"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATE_LOCK = threading.Lock()  # Alembic's command API keeps global state: one upgrade at a time per process
_MIGRATE_LOCK_KEY = 0x60B1_0001  # PostgreSQL advisory lock: one upgrade at a time per database


@cache
def engine_for(url: str) -> Engine:
    """One pooled engine per URL; SQLite gets WAL and a busy timeout so CLI and web can share it."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine() -> Engine:
    """The engine of the configured metadata store (GOVHUB_DB_URL)."""
    return engine_for(get_settings().metadata_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    factory = sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def migrate(url: str | None = None) -> None:
    """Bring the metadata store to the newest schema (idempotent, safe at every start)."""
    engine = engine_for(url or get_settings().metadata_url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with _MIGRATE_LOCK, engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # processes starting together on a fresh database
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATE_LOCK_KEY})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
