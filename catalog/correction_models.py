"""The stored data corrections (校核纠错): a flag on one field of one curated record, and the steps of its life.

The rules that raise, answer, close and reopen flags are in `catalog.corrections`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, utcnow
from catalog.subscriptions import _aware, _now

__all__ = [
    "ACTIVE_STATES",
    "ClosedReason",
    "CorrectionEvent",
    "CorrectionFlag",
    "FlagStatus",
    "Reporter",
    "ReporterKind",
    "masked_key",
    "short_key",
]

ReporterKind = Literal["department", "client", "admin"]
FlagStatus = Literal["open", "confirmed", "rejected", "closed"]
# why a flag closed: a published version carries another value, or no longer holds the record
ClosedReason = Literal["corrected", "record_left"]
ACTIVE_STATES: tuple[str, ...] = ("open", "confirmed")  # the record is under correction
_ACTIVE_SQL = "status IN ('open', 'confirmed')"  # the partial unique index: one active flag per record and field


@dataclass(frozen=True)
class Reporter:
    """Who reports: a department code, a verification client id (with its case number), or an admin name."""

    kind: ReporterKind
    id: str
    case_number: str | None = None

    @property
    def party(self) -> str:
        """The reporter as an exchange-log party: department:<code>, client:<id>, admin:<name>."""
        return _party(self.kind, self.id)


class CorrectionFlag(Base):
    """One reported error on one field of one curated record, and what became of it."""

    __tablename__ = "correction_flag"
    __table_args__ = (
        Index(
            "uq_correction_flag_active",
            "resource",
            "record_key",
            "field",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource: Mapped[str] = mapped_column(String(64), index=True)  # the contract's name
    record_key: Mapped[str] = mapped_column(String(255), index=True)  # primary-key value ("|" joins a composite)
    field: Mapped[str] = mapped_column(String(64))
    provider_code: Mapped[str] = mapped_column(String(32), index=True)  # who must decide
    reporter_kind: Mapped[str] = mapped_column(String(16))
    reporter: Mapped[str] = mapped_column(String(64), index=True)
    case_number: Mapped[str | None] = mapped_column(String(80), nullable=True)  # 办件编号 (clients)
    problem: Mapped[str] = mapped_column(Text)
    evidence_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    evidence_ref: Mapped[str | None] = mapped_column(String(500), nullable=True)
    flagged_value: Mapped[str | None] = mapped_column(Text, nullable=True)  # the value reported wrong, as text
    flagged_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # a `ClosedReason` while closed (corrected / record_left), NULL otherwise: a reopened flag is not closed
    closed_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)

    events: Mapped[list[CorrectionEvent]] = relationship(
        back_populates="flag", order_by="CorrectionEvent.id", cascade="all, delete-orphan"
    )

    @property
    def reporter_party(self) -> str:
        """The reporter as an exchange-log party (as `Reporter.party`)."""
        return _party(self.reporter_kind, self.reporter)

    def overdue(self, now: datetime | None = None) -> bool:
        """Still undecided after its due date."""
        return self.status == "open" and _aware(self.due_at) < _now(now)

    def age_days(self, now: datetime | None = None) -> float:
        """Days since it was raised (to its closing or decision when it has one)."""
        end = self.closed_at or (self.decided_at if self.status == "rejected" else None)
        return (_now(end or now) - _aware(self.raised_at)).total_seconds() / 86400

    def __repr__(self) -> str:
        return f"CorrectionFlag(#{self.id}, {self.resource}/{self.field}, {self.status})"


class CorrectionEvent(Base):
    """One step of a flag's life (flagged, confirmed, rejected, overdue, closed, notified): who, when, why."""

    __tablename__ = "correction_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("correction_flag.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    flag: Mapped[CorrectionFlag] = relationship(back_populates="events")


def _party(kind: str, reporter: str) -> str:
    """A reporter as an exchange-log party: department:<code>, client:<id>, admin:<name>."""
    return f"{kind}:{reporter}"


def masked_key(record_key: str) -> str:
    """A record key shown to someone who does not hold the record (it may be a citizen ID): ends kept."""
    if len(record_key) <= 6:
        return record_key
    return f"{record_key[:4]}{'*' * (len(record_key) - 6)}{record_key[-2:]}"


def short_key(record_key: str) -> str:
    """A record key for messages: personal ids are not repeated in full."""
    return record_key if len(record_key) <= 8 else f"{record_key[:6]}…{record_key[-2:]}"
