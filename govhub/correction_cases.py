"""An approval system flags only a record its own case asked about (校核纠错 by verification clients).

A verification client sees predicates, not records: letting it flag any key would tell it which keys
exist (a flag is stored, or refused as unknown) and the value it flagged. So a client's flag must name
a record that one of its answered questions in the same case (办件编号) was about: an `ok` verification
event of this client and case number whose keyed subject hash is one the record's lookup keys give.
A record it did not ask about and a record that does not exist get the same refusal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import CatalogAccessDenied, CatalogError, Reporter, Resource
from exchange.log import ExchangeEvent
from exchange.subjects import subject_hashes
from exchange.verify import VerificationClient, load_items
from govhub.correction_reads import KEY_SEPARATOR, read_values
from govhub.exchange_log import hub_subject_keys

__all__ = ["check_case"]


def check_case(session: Session, reporter: Reporter, entry: Resource, record_key: str, *, lake: Any) -> None:
    """Raise unless the client's case (`reporter.case_number`) asked a question about the record."""
    case = (reporter.case_number or "").strip()
    if not case:
        raise CatalogError(
            "case_number is required: an approval system reports with its case number (办件编号)",
            message_zh="核验客户端纠错须提供办件编号",
            resource=entry.resource,
            field="case_number",
        )
    client = session.get(VerificationClient, reporter.id)
    allowed = set(client.allowed_items or ()) if client is not None else set()
    items = [item for item in load_items().values() if item.code in allowed and item.resource == entry.resource]
    keys = hub_subject_keys()
    pk = tuple(entry.primary_key)
    hashes: set[str] = set()
    by_other_key = [item for item in items if tuple(item.key) != pk]
    if any(tuple(item.key) == pk for item in items):
        hashes.update(subject_hashes(record_key.split(KEY_SEPARATOR), keys=keys))
    if by_other_key:  # the record's own values of those keys: what such questions were hashed by
        wanted = [(record_key, k) for item in by_other_key for k in item.key]
        values, _ = read_values(entry.resource, wanted, lake=lake)
        for item in by_other_key:
            parts = [values.get((record_key, k)) for k in item.key]
            if all(isinstance(p, str) and p for p in parts):
                hashes.update(subject_hashes([str(p) for p in parts], keys=keys))
    asked = None
    if hashes:
        asked = session.scalar(
            select(ExchangeEvent.seq)
            .where(
                ExchangeEvent.type == "verification",
                ExchangeEvent.outcome == "ok",
                ExchangeEvent.client == reporter.id,
                ExchangeEvent.case_number == case,
                ExchangeEvent.subject_hash.in_(sorted(hashes)),
            )
            .limit(1)
        )
    if asked is None:
        raise CatalogAccessDenied(
            f"approval system {reporter.id} asked no question about this {entry.resource} record in case {case}: "
            "flag a record your case verified, with that case number",
            message_zh=f"办件 {case} 未核验过该记录，核验客户端只能对本办件核验过的记录提出纠错",
            department=reporter.id,
        )
