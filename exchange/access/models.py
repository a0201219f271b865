"""Tables of the access record (谁查了我的数据): keyed by the subject hash, never by the raw ID.

`subject_query`: one row per verification answer about a subject, copied from its exchange-log event
(so the record outlives the event's archiving). `subject_change`: one row per (resource, version,
subject) the version's change feed touched; a delivery covering that version delivered the subject's
record. `subject_change_mark`: how far each resource's versions are indexed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from catalog import Base
from exchange.log.models import UTCDateTime

__all__ = ["SubjectChange", "SubjectChangeMark", "SubjectQuery"]


class SubjectQuery(Base):
    """A verification question answered about a subject: who asked, for which case and purpose, what came back."""

    __tablename__ = "subject_query"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    subject_hash: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    client: Mapped[str] = mapped_column(String(128))
    item: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str | None] = mapped_column(String(64), nullable=True)
    version: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    case_number: Mapped[str | None] = mapped_column(String(80), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(255), nullable=True)
    answer: Mapped[str] = mapped_column(Text)  # canonical JSON: {"match": bool} | {"found": false} | {"fields": [...]}

    __table_args__ = (Index("ix_subject_query_subject_hash_seq", "subject_hash", "seq"),)


class SubjectChange(Base):
    """Version `version` of `resource` changed (inserted, updated or deleted) a record of the subject.

    `field` names where the subject is in the record: a delivery whose subscription was not granted that
    field (a legal representative's ID left out) did not carry the subject.
    """

    __tablename__ = "subject_change"

    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    change: Mapped[str] = mapped_column(String(8))  # insert | update | delete (the last of the version)
    field: Mapped[str] = mapped_column(String(64))  # the contract field that holds the subject's ID or code

    __table_args__ = (Index("ix_subject_change_subject_hash", "subject_hash", "resource", "version"),)


class SubjectChangeMark(Base):
    """The newest version of a resource whose change feed is in `subject_change`."""

    __tablename__ = "subject_change_mark"

    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=-1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
