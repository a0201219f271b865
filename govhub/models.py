"""Pipeline metadata: run records, per-resource state (watermark, lock) and quality reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base, utcnow

__all__ = ["IngestRun", "QualityReport", "ResourceState"]


class ResourceState(Base):
    """The committed watermark of a resource and the lock that keeps its runs apart."""

    __tablename__ = "resource_state"

    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    watermark: Mapped[dict | None] = mapped_column(nullable=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pending: Mapped[int] = mapped_column(Integer, default=0)  # open pending rows in the quarantine
    lock_run_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lock_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lock_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lock_heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class IngestRun(Base):
    """One run of one resource; counts must reconcile: extracted = accepted + rejected + pending.

    `kind` is `ingest` (rows from the source), `recheck` (pending rows again, after a referenced
    resource published) or `reprocess` (quarantined rows an admin chose, `scope` says which).
    """

    __tablename__ = "ingest_run"

    run_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, succeeded, failed, superseded
    stage: Mapped[str] = mapped_column(String(16), default="begin")
    orchestrator: Mapped[str] = mapped_column(String(16), default="cli")  # cli or airflow
    kind: Mapped[str] = mapped_column(String(16), default="ingest")  # ingest, recheck, reprocess
    scope: Mapped[dict | None] = mapped_column(nullable=True)  # recheck/reprocess: which quarantined rows
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    extracted: Mapped[int | None] = mapped_column(Integer, nullable=True)
    accepted: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rejected: Mapped[int | None] = mapped_column(Integer, nullable=True)
    warned: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pending: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcomes: Mapped[dict | None] = mapped_column(nullable=True)  # recheck: promoted, still_pending, expired...
    reconciled: Mapped[bool | None] = mapped_column(nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state_before: Mapped[dict | None] = mapped_column(nullable=True)
    state_after: Mapped[dict | None] = mapped_column(nullable=True)
    top_reasons: Mapped[list | None] = mapped_column(nullable=True)
    problems: Mapped[list | None] = mapped_column(nullable=True)
    drift: Mapped[dict | None] = mapped_column(nullable=True)
    stage_seconds: Mapped[dict | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class QualityReport(Base):
    """The quality outcome of a run: GB/T 36344 scorecard and the GX suite results, kept in the hub's store."""

    __tablename__ = "quality_report"

    run_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    scorecard: Mapped[dict] = mapped_column(default=dict)
    findings: Mapped[list] = mapped_column(default=list)
    suite_success: Mapped[bool | None] = mapped_column(nullable=True)
    suite_result: Mapped[dict | None] = mapped_column(nullable=True)
