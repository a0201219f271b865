"""Published dataset versions: what the hub held, when, from which run, and how good it was."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from catalog.db import Base, utcnow

__all__ = ["DatasetVersion", "latest_version", "list_versions", "record_version"]


class DatasetVersion(Base):
    """One Delta commit of a curated table = one dataset version of a resource."""

    __tablename__ = "dataset_version"
    __table_args__ = (UniqueConstraint("resource", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    committed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    run_id: Mapped[str] = mapped_column(String(80))
    rows_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_deleted: Mapped[int] = mapped_column(Integer, default=0)
    schema_fingerprint: Mapped[str] = mapped_column(String(64))
    scorecard: Mapped[dict] = mapped_column(default=dict)
    # what the commit wrote, {"log": {path, size, sha256}, "files": [...]}: lake.commit_manifest, `govhub lake verify`
    files: Mapped[dict | None] = mapped_column(nullable=True, default=None)


def record_version(session: Session, *, resource: str, version: int, **values: object) -> DatasetVersion:
    """Insert or refresh the record of a version (idempotent: a recovered run registers once)."""
    row = session.scalars(
        select(DatasetVersion).where(DatasetVersion.resource == resource, DatasetVersion.version == version)
    ).one_or_none()
    if row is None:
        row = DatasetVersion(resource=resource, version=version)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    return row


def latest_version(session: Session, resource: str) -> DatasetVersion | None:
    """The newest registered version of a resource, if any."""
    return session.scalars(
        select(DatasetVersion).where(DatasetVersion.resource == resource).order_by(DatasetVersion.version.desc())
    ).first()


def list_versions(session: Session, resource: str, *, newest_first: bool = True) -> list[DatasetVersion]:
    """Every registered version of a resource, newest first by default."""
    order = DatasetVersion.version.desc() if newest_first else DatasetVersion.version.asc()
    return list(session.scalars(select(DatasetVersion).where(DatasetVersion.resource == resource).order_by(order)))
