"""Filling the access record's index from what happened before it existed (`govhub access-record backfill`).

Verification answers come from the exchange log — the events archived to Parquet in the lake (each
file's SM3 checked as it is read) and the live ones — their answers from the issued sealed answers;
each event is indexed once (by its seq), so a re-run adds only what is missing. A hub that archived
events must name the lake holding them: the backfill refuses rather than leave a citizen's older
answers silently out of their access record. Deliveries: each resource's versions up to its newest done delivery
are indexed from the change feed, as a delivery run would have.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.access.index import index_changes, query_rows, record_queries
from exchange.access.models import SubjectQuery
from exchange.delivery.models import Delivery
from exchange.log.archive import iter_archive_rows
from exchange.log.errors import ExchangeLogError
from exchange.log.models import ArchiveRecord, ExchangeEvent
from exchange.subjects import SubjectKeys
from exchange.verify.clients import VerificationAnswerRecord
from lake import Lake
from schemas import Contract

__all__ = ["backfill_changes", "backfill_queries"]

_CHUNK = 5000


def backfill_queries(session: Session, *, archives: object | None = None, chunk: int = _CHUNK) -> int:
    """Index every verification event not yet indexed, archived ones first; commits per chunk; returns rows added.

    `archives` is the lake (a `lake.Lake` or a folder) holding the log's archive files; without it, a log
    that archived events raises `ExchangeLogError` naming them (nothing is indexed). A damaged or altered
    archive file raises `ChainBrokenError` naming it; what was indexed before it stays.
    """
    records = list(session.scalars(select(ArchiveRecord).order_by(ArchiveRecord.from_seq)))
    added = 0
    if records:
        if archives is None:
            raise ExchangeLogError(
                f"{sum(r.events or 0 for r in records):,} exchange-log events (seq {records[0].from_seq}-"
                f"{records[-1].to_seq}) were archived to Parquet: give the lake holding them (archives=) so their "
                "verification answers reach the access record too"
            )
        for events in _chunks(_archived(archives, records), chunk):
            added += _index(session, events)
    after = 0
    while True:
        live = list(
            session.scalars(
                select(ExchangeEvent)
                .where(ExchangeEvent.type == "verification", ExchangeEvent.seq > after)
                .where(ExchangeEvent.subject_hash.is_not(None))
                .order_by(ExchangeEvent.seq)
                .limit(chunk)
            )
        )
        if not live:
            return added
        after = live[-1].seq
        added += _index(session, live)


def _archived(archives: object, records: Sequence[ArchiveRecord]) -> Iterator[Any]:
    """The archived verification events about a subject, in seq order, as objects `query_rows` reads."""
    for row in iter_archive_rows(archives, records):
        if row["type"] == "verification" and row["subject_hash"] is not None:
            yield SimpleNamespace(**row)


def _chunks(events: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _index(session: Session, events: Sequence[Any]) -> int:
    """Index the events (seq order) not indexed yet, in one commit; how many rows were added."""
    done = set(
        session.scalars(
            select(SubjectQuery.seq).where(SubjectQuery.seq >= events[0].seq, SubjectQuery.seq <= events[-1].seq)
        )
    )
    missing = [e for e in events if e.seq not in done]
    rows = query_rows(missing, _answers(session, {e.request_id for e in missing if e.request_id}))
    record_queries(session, rows)
    session.commit()
    return len(rows)


def _answers(session: Session, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = sorted(ids)
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        for record in session.scalars(
            select(VerificationAnswerRecord).where(VerificationAnswerRecord.answer_id.in_(wanted[start : start + 500]))
        ):
            out[record.answer_id] = json.loads(record.document)
    return out


def backfill_changes(
    session: Session, lake: Lake, contracts: Iterable[Contract], *, keys: SubjectKeys
) -> dict[str, int]:
    """Index each resource's versions up to its newest done delivery; commits per resource; rows added by resource."""
    out = {}
    for contract in contracts:
        upto = session.scalar(
            select(func.max(Delivery.to_version)).where(
                Delivery.resource == contract.resource, Delivery.status == "done"
            )
        )
        if upto is None:
            continue
        out[contract.resource] = index_changes(session, lake.curated(contract), contract, keys=keys, upto=int(upto))
        session.commit()
    return out
