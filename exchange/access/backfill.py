"""Filling the access record's index from what happened before it existed (`govhub access-record backfill`).

Verification answers come from the live exchange log (archived events are not re-read: archive after
backfilling), their answers from the issued sealed answers; each event is indexed once (by its seq), so
a re-run adds only what is missing. Deliveries: each resource's versions up to its newest done delivery
are indexed from the change feed, as a delivery run would have.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.access.index import index_changes, query_rows, record_queries
from exchange.access.models import SubjectQuery
from exchange.delivery.models import Delivery
from exchange.log.models import ExchangeEvent
from exchange.subjects import SubjectKeys
from exchange.verify.clients import VerificationAnswerRecord
from lake import Lake
from schemas import Contract

__all__ = ["backfill_changes", "backfill_queries"]

_CHUNK = 5000


def backfill_queries(session: Session, *, chunk: int = _CHUNK) -> int:
    """Index every verification event of the live log not yet indexed; commits per chunk; returns rows added."""
    added, after = 0, 0
    while True:
        events = list(
            session.scalars(
                select(ExchangeEvent)
                .where(ExchangeEvent.type == "verification", ExchangeEvent.seq > after)
                .where(ExchangeEvent.subject_hash.is_not(None))
                .order_by(ExchangeEvent.seq)
                .limit(chunk)
            )
        )
        if not events:
            return added
        after = events[-1].seq
        done = set(
            session.scalars(
                select(SubjectQuery.seq).where(SubjectQuery.seq >= events[0].seq, SubjectQuery.seq <= after)
            )
        )
        missing = [e for e in events if e.seq not in done]
        rows = query_rows(missing, _answers(session, {e.request_id for e in missing if e.request_id}))
        record_queries(session, rows)
        session.commit()
        added += len(rows)


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
