"""The declarative base every room's tables share, so one Alembic history covers the hub's metadata."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, MetaData
from sqlalchemy.orm import DeclarativeBase

__all__ = ["Base", "utcnow"]

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


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the metadata tables use."""
    return datetime.now(UTC)
