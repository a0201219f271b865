"""The `delivery` table: one row per (subscription, dataset version) the hub delivered or tried to."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog import Base, utcnow

__all__ = ["Delivery", "DeliveryMode", "DeliveryStatus"]

DeliveryMode = Literal["file", "database", "api"]
DeliveryStatus = Literal["running", "done", "failed"]


class Delivery(Base):
    """Changes of `resource` after `from_version` (exclusive; None = full snapshot) up to `to_version`.

    Unique on (subscription_id, to_version): a retry reuses its row, so a version is delivered once.
    `location` is the lake object key (file), the target table (database) or the pull cursor (api).
    """

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("subscription_id", "to_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(Integer, index=True)
    department_code: Mapped[str] = mapped_column(String(64), index=True)
    resource: Mapped[str] = mapped_column(String(64), index=True)
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    rows_inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_updated: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    location: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def rows(self) -> int:
        """Rows delivered: inserted + updated + deleted."""
        return (self.rows_inserted or 0) + (self.rows_updated or 0) + (self.rows_deleted or 0)

    def __repr__(self) -> str:
        return (
            f"Delivery(subscription={self.subscription_id}, {self.resource} v{self.from_version}->v{self.to_version}, "
            f"{self.mode}, {self.status})"
        )
