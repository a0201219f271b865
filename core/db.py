"""The metadata store's basics: the declarative base every room's tables share, one engine per URL, sessions.

One base means one Alembic history (`govhub/migrations`) covers the hub's metadata; migrations live
with the pipeline floor because they import every room's models.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.settings import get_settings
from core.time import utcnow

__all__ = ["Base", "engine_for", "get_engine", "session_scope", "utcnow"]

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base for the hub's metadata tables (SQLite by default, PostgreSQL in production)."""

    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {dict: JSON, list: JSON}  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)


@cache
def engine_for(url: str) -> Engine:
    """One pooled engine per URL; SQLite gets WAL and a busy timeout so CLI and web can share it.

    A new SQLite file (no page yet) is made `auto_vacuum=INCREMENTAL` before anything is written: the mode
    can only be chosen before the first table, and it lets the exchange-log archive give space back in
    small steps (`PRAGMA incremental_vacuum`) instead of a full `VACUUM` that needs twice the file's size
    free. An existing file is left in its mode: setting it there would take the write lock at every connect.
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
                cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
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
