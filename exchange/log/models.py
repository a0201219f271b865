"""Tables of the exchange log: events (the hash chain), its head row, signed checkpoints, archives."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from catalog import Base, utcnow
from exchange.log._hashing import as_utc, canonical

__all__ = [
    "GENESIS_HASH",
    "ArchiveRecord",
    "CanonicalJSON",
    "ChainCheck",
    "ChainHead",
    "Checkpoint",
    "EventType",
    "ExchangeEvent",
    "LogMark",
    "Rollup",
    "UTCDateTime",
]

FILTERED_COLUMNS = (
    "type",
    "resource",
    "department",
    "client",
    "outcome",
    "case_number",
    "subject_hash",
    "target",
    "source",
)
"""Every column the monitor filters the log by: each has an index on (column, seq), so a filtered page
newest first is an index range scan on SQLite and PostgreSQL alike."""

GENESIS_HASH = "0" * 64
"""The prev_hash of the first event ever appended (seq 1)."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out (SQLite stores no zone; naive values are UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class CanonicalJSON(TypeDecorator[Any]):
    """JSON kept as its canonical text (the exact bytes the event hash covers), so a walk splices it unparsed.

    Text on the wire on every dialect; the PostgreSQL column stays `json` (it keeps the text as given).
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else canonical(value).decode("utf-8")

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value


class EventType(StrEnum):
    """What kind of exchange an event records."""

    INGEST = "ingest"
    QUARANTINE = "quarantine"
    PUBLISH = "publish"
    DELIVERY = "delivery"
    VERIFICATION = "verification"
    DENIAL = "denial"
    CLIENT_ERROR = "client_error"  # a caller's mistake (400/405/409/413/422): refused, not a denial
    SUBSCRIPTION = "subscription"
    ADMIN = "admin"
    ACCESS_RECORD = "access_record"  # a person (through the 政务服务 app) read their own access record
    CORRECTION = "correction"  # 校核纠错: a reported error and its answer (flagged ... closed)


class ExchangeEvent(Base):
    """One exchange, one link of the chain: `hash` = SM3 of the canonical JSON of every other column."""

    __tablename__ = "exchange_event"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    source: Mapped[str] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str | None] = mapped_column(String(64), nullable=True)
    version: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(128), nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str] = mapped_column(String(8))
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    case_number: Mapped[str | None] = mapped_column(String(80), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(255), nullable=True)
    subject_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    client: Mapped[str | None] = mapped_column(String(128), nullable=True)
    department: Mapped[str | None] = mapped_column(String(128), nullable=True)
    details: Mapped[dict | None] = mapped_column(CanonicalJSON(), nullable=True)  # text: canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = tuple(Index(f"ix_exchange_event_{column}_seq", column, "seq") for column in FILTERED_COLUMNS)

    def __repr__(self) -> str:
        return f"ExchangeEvent(seq={self.seq}, type={self.type!r}, outcome={self.outcome!r}, id={self.event_id})"


class ChainHead(Base):
    """The single row naming the newest event; appenders lock it so the chain cannot fork."""

    __tablename__ = "exchange_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Checkpoint(Base):
    """A signature by the hub key over (seq, head hash, time): pins every event up to `seq`."""

    __tablename__ = "exchange_log_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str] = mapped_column(String(128))
    algorithm: Mapped[str] = mapped_column(String(16))
    public_key_pem: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)  # base64

    def __repr__(self) -> str:
        return f"Checkpoint(id={self.id}, seq={self.seq}, key_id={self.key_id!r})"


class ArchiveRecord(Base):
    """A run of events moved to a Parquet file in the lake; keeps the chain linkable across it."""

    __tablename__ = "exchange_log_archive"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    from_seq: Mapped[int] = mapped_column(BigInteger)
    to_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_prev_hash: Mapped[str] = mapped_column(String(64))
    head_hash: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(255))  # relative to the lake root
    file_sm3: Mapped[str] = mapped_column(String(64))
    events: Mapped[int] = mapped_column(Integer)
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LogMark(Base):
    """A named position in the chain: `verified` (the last verified signed checkpoint), `rollup` (counted)."""

    __tablename__ = "exchange_log_mark"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    checkpoint_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChainCheck(Base):
    """One verification of the chain (full walk or incremental check) and what it found."""

    __tablename__ = "exchange_log_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # full | incremental
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seconds: Mapped[float] = mapped_column(Float)
    ok: Mapped[bool] = mapped_column(Boolean)
    from_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    to_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    unsigned_tail: Mapped[int] = mapped_column(BigInteger, default=0)
    problem: Mapped[str | None] = mapped_column(String(32), nullable=True)
    first_bad_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class Rollup(Base):
    """Event counts and rows per Beijing-time bucket (hour `YYYY-MM-DD HH:00`, day `YYYY-MM-DD`) and group."""

    __tablename__ = "exchange_rollup"

    grain: Mapped[str] = mapped_column(String(1), primary_key=True)  # h | d
    bucket: Mapped[str] = mapped_column(String(16), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    department: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" when none
    client: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" when none
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
