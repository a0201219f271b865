"""Data corrections (校核纠错) with the lake, the exchange log and the reporter's notices wired in.

`catalog.corrections` keeps the flags and their state machine; this module adds what needs the hub:
what a reporter may see (its grants, or its verification items), the flagged record's current value
read through the lake's public read API, an exchange-log event for every step (flagged, confirmed,
rejected, overdue, closed, notified; the record key only as a keyed subject hash), a notice file for
the reporter beside its deliveries, and the check that closes confirmed flags once a published version
carries a different value (`check_published`, called by the pipeline after every publish).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from catalog import (
    CatalogError,
    CorrectionFlag,
    Reporter,
    close_flag,
    decide_flag,
    granted_subscriptions,
    list_flags,
    mark_overdue,
    raise_flag,
)
from catalog.corrections import add_event
from exchange.log import EventType, ExchangeLog
from exchange.subjects import subject_hash
from exchange.verify import VerificationClient, load_items
from govhub.db import session_scope
from govhub.delivery_runner import open_lake
from govhub.exchange_log import hub_log, hub_subject_keys
from govhub.sharing_disputes import apply_sharing_limits
from schemas import AccessDenied, GovhubError, load_contract

__all__ = [
    "KEY_SEPARATOR",
    "check_published",
    "decide_logged",
    "flag_logged",
    "notice_key",
    "overdue_logged",
    "read_values",
    "visible_fields",
]

logger = logging.getLogger(__name__)

KEY_SEPARATOR = "|"  # joins the values of a composite primary key, in contract order
_MISSING = object()


def visible_fields(session: Session, reporter: Reporter, resource: str) -> set[str] | None:
    """The fields of `resource` the reporter receives: None (all) for an administrator.

    A department: the fields of its granted subscriptions within their term of use; a client: the
    fields its allowed verification items touch (key, subject, reads, returns).
    """
    if reporter.kind == "admin":
        return None
    if reporter.kind == "department":
        subs = granted_subscriptions(session, resource)
        return {f for sub in subs if sub.department_code == reporter.id for f in (sub.fields or [])}
    client = session.get(VerificationClient, reporter.id)
    if client is None or not client.active:
        raise CatalogError(
            f"unknown or inactive verification client {reporter.id!r}",
            message_zh=f"核验客户端 {reporter.id} 不存在或已停用",
            kind="not_found",
        )
    allowed = set(client.allowed_items or ())
    return {
        f for item in load_items().values() if item.code in allowed and item.resource == resource for f in item.fields
    }


def read_values(
    resource: str, wanted: Iterable[tuple[str, str]], *, lake: Any = None
) -> tuple[dict[tuple[str, str], str | None], int | None]:
    """The current published values of (record key, field) pairs, as text, and the version read.

    Pairs whose record is not in the current version are absent from the result. Read through the
    curated table's `scan` (a pass over the key and the wanted columns only).
    """
    contract = load_contract(resource)
    curated = (lake or open_lake()).curated(contract)
    pairs = list(dict.fromkeys(wanted))
    version = curated.version()
    if not pairs or version is None:
        return {}, version
    keys = list(contract.primary_key)
    fields = sorted({f for _, f in pairs})
    wanted_keys = pa.array(sorted({k for k, _ in pairs}), pa.string())
    found: dict[tuple[str, str], str | None] = {}
    columns = list(dict.fromkeys([*keys, *fields]))
    for batch in curated.scan(version=version, columns=columns):
        key_text = _key_column(batch, keys)
        hits = pc.is_in(key_text, value_set=wanted_keys)
        if not pc.any(hits).as_py():
            continue
        chosen = batch.filter(hits)
        chosen_keys = _key_column(chosen, keys).to_pylist()
        for name in fields:
            values = chosen.column(name).to_pylist()
            for key, value in zip(chosen_keys, values, strict=True):
                if (key, name) in pairs:
                    found[(key, name)] = _text(value)
    return found, version


def flag_logged(
    session: Session,
    *,
    reporter: Reporter,
    resource: str,
    record_key: str,
    field: str,
    problem: str,
    evidence_text: str | None = None,
    evidence_ref: str | None = None,
    exchange_log: ExchangeLog | None = None,
    lake: Any = None,
    now: datetime | None = None,
) -> CorrectionFlag:
    """Flag an error on a published record: checked, stored and logged in the caller's transaction.

    Raises `CatalogError(not_found)` when the record is not in the current published version, and
    whatever `catalog.raise_flag` raises (unknown field, no grant, duplicate...).
    """
    with _refusals_logged(
        session,
        "flag_refused",
        party=reporter.party,
        resource=resource,
        field=field,
        reporter=reporter,
        log=exchange_log,
    ):
        return _flag(
            session,
            reporter,
            resource,
            record_key,
            field,
            problem,
            evidence_text,
            evidence_ref,
            lake,
            now,
            exchange_log,
        )


def _flag(
    session: Session,
    reporter: Reporter,
    resource: str,
    record_key: str,
    field: str,
    problem: str,
    evidence_text: str | None,
    evidence_ref: str | None,
    lake: Any,
    now: datetime | None,
    exchange_log: ExchangeLog | None,
) -> CorrectionFlag:
    from catalog import get_resource

    apply_sharing_limits()
    entry = get_resource(session, resource)
    fields = visible_fields(session, reporter, entry.resource)
    value: Any = _MISSING
    version = None
    if field in {item.name for item in entry.items} and (fields is None or field in fields):
        values, version = read_values(entry.resource, [(record_key, field)], lake=lake)
        value = values.get((record_key, field), _MISSING)
        if value is _MISSING:
            raise CatalogError(
                f"{entry.resource} has no published record with key {_short(record_key)} (version {version}); "
                f"give the record's {'+'.join(entry.primary_key)} as published",
                message_zh=f"资源 {entry.name} 的已发布数据中没有主键为 {_short(record_key)} 的记录",
                kind="not_found",
                resource=entry.resource,
                field="record_key",
            )
    flag = raise_flag(
        session,
        reporter=reporter,
        resource=entry.resource,
        record_key=record_key,
        field=field,
        problem=problem,
        evidence_text=evidence_text,
        evidence_ref=evidence_ref,
        visible_fields=fields,
        flagged_value=None if value is _MISSING else value,
        flagged_version=version,
        now=now,
    )
    _log(session, flag, "flagged", source=reporter.party, target=f"department:{flag.provider_code}", log=exchange_log)
    return flag


def decide_logged(
    session: Session,
    flag_id: int,
    *,
    actor_department: str,
    confirm: bool,
    reason: str | None,
    exchange_log: ExchangeLog | None = None,
    lake: Any = None,
    now: datetime | None = None,
) -> CorrectionFlag:
    """The provider's answer, logged; the reporter gets a notice. A confirmation whose record already
    carries another value (the source was fixed before the answer) closes at once."""
    with _refusals_logged(
        session, "decision_refused", party=f"department:{actor_department}", flag_id=flag_id, log=exchange_log
    ):
        flag = decide_flag(session, flag_id, actor_department=actor_department, confirm=confirm, reason=reason, now=now)
    _log(
        session,
        flag,
        flag.status,
        source=f"department:{actor_department}",
        target=_reporter_party(flag),
        log=exchange_log,
    )
    _notify(session, flag, flag.status, lake=lake, log=exchange_log)
    if confirm:
        _close_corrected(session, [flag], lake=lake, log=exchange_log, now=now)
    return flag


def overdue_logged(
    session: Session, *, exchange_log: ExchangeLog | None = None, now: datetime | None = None
) -> list[CorrectionFlag]:
    """Mark open flags past their due date (once each) and log an `overdue` event for each."""
    marked = mark_overdue(session, now=now)
    for flag in marked:
        _log(session, flag, "overdue", source="govhub", target=f"department:{flag.provider_code}", log=exchange_log)
    return marked


def check_published(resource: str, *, lake: Any = None, now: datetime | None = None) -> list[CorrectionFlag]:
    """After `resource` published: close each confirmed flag whose record now carries another value.

    Idempotent: a flag is compared with the current version each time, so a check missed after a
    crash is made by the next publish (or `govhub correction check`). Also marks overdue flags.
    """
    with session_scope() as session:
        overdue_logged(session, now=now)
        confirmed = list_flags(session, status="confirmed", resource=resource)
        closed = _close_corrected(session, confirmed, lake=lake, log=None, now=now)
    return closed


@contextmanager
def _refusals_logged(
    session: Session,
    action: str,
    *,
    party: str,
    log: ExchangeLog | None,
    resource: str | None = None,
    field: str | None = None,
    flag_id: int | None = None,
    reporter: Reporter | None = None,
) -> Iterator[None]:
    """A refused flag or decision changes nothing and is itself logged (a `correction` event, outcome
    denied or failed, naming the rule): the session is rolled back, the refusal committed, the error re-raised."""
    try:
        yield
    except GovhubError as error:
        session.rollback()
        denied = isinstance(error, AccessDenied)
        (log or hub_log(session)).append(
            EventType.CORRECTION,
            source=party[:128],
            target="govhub",
            resource=getattr(error, "resource", None) or resource,
            department=party.removeprefix("department:") if party.startswith("department:") else None,
            client=reporter.id if reporter is not None and reporter.kind == "client" else None,
            case_number=reporter.case_number if reporter is not None else None,
            outcome="denied" if denied else "failed",
            error_code="forbidden" if denied else str(getattr(error, "kind", "invalid")),
            details={
                "action": action,
                "flag_id": flag_id,
                "field": getattr(error, "field", None) or field,
                "message": str(error)[:500],
            },
        )
        session.commit()
        logger.info("correction %s for %s: %s", action, party, error)
        raise


def notice_key(flag: CorrectionFlag, action: str) -> str:
    """Where the reporter's notice is written in the lake's object store (beside its deliveries)."""
    if flag.reporter_kind == "department":
        return f"deliveries/{flag.reporter}/notices/correction-{flag.id}-{action}.json"
    return f"notices/{flag.reporter_kind}/{flag.reporter}/correction-{flag.id}-{action}.json"


def _close_corrected(
    session: Session, flags: Collection[CorrectionFlag], *, lake: Any, log: ExchangeLog | None, now: datetime | None
) -> list[CorrectionFlag]:
    """Close the confirmed flags whose published value differs from the flagged one (or whose record left)."""
    by_resource: dict[str, list[CorrectionFlag]] = {}
    for flag in flags:
        if flag.status == "confirmed":
            by_resource.setdefault(flag.resource, []).append(flag)
    closed = []
    for resource, group in by_resource.items():
        values, version = read_values(resource, [(f.record_key, f.field) for f in group], lake=lake)
        for flag in group:
            current = values.get((flag.record_key, flag.field), _MISSING)
            if current is not _MISSING and current == flag.flagged_value:
                continue
            note = (
                f"version {version} no longer holds the record"
                if current is _MISSING
                else f"version {version} carries a corrected value (was {flag.flagged_value!r})"
            )
            close_flag(session, flag, version=version, note=note, now=now)
            _log(session, flag, "closed", source="govhub", target=_reporter_party(flag), log=log, version=version)
            _notify(session, flag, "closed", lake=lake, log=log)
            closed.append(flag)
    return closed


def _notify(session: Session, flag: CorrectionFlag, action: str, *, lake: Any, log: ExchangeLog | None) -> None:
    """Write the reporter's notice (JSON) to the object store and record that it was sent."""
    from lake import ObjectStore

    key = notice_key(flag, action)
    notice = {
        "notice": "correction",
        "flag_id": flag.id,
        "action": action,
        "status": flag.status,
        "resource": flag.resource,
        "field": flag.field,
        "case_number": flag.case_number,
        "decided_by": flag.decided_by,
        "reason": flag.decision_reason,
        "closed_version": flag.closed_version,
        "api": f"/api/corrections/{flag.id}",
    }
    fd, tmp = tempfile.mkstemp(suffix=".json", prefix="govhub-notice-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(notice, f, ensure_ascii=False, sort_keys=True)
        ObjectStore.from_lake(lake or open_lake()).put_file(key, tmp, content_type="application/json")
    finally:
        os.unlink(tmp)
    add_event(flag, "notified", "govhub", note=f"{action}: {key}")
    _log(session, flag, "notified", source="govhub", target=_reporter_party(flag), log=log, extra={"notice": key})


def _log(
    session: Session,
    flag: CorrectionFlag,
    action: str,
    *,
    source: str,
    target: str,
    log: ExchangeLog | None,
    version: int | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """One `correction` event; the record key only as a keyed subject hash (it may be a citizen ID)."""
    concerned = flag.provider_code if action in ("confirmed", "rejected", "overdue") else None
    if concerned is None and flag.reporter_kind == "department":
        concerned = flag.reporter
    (log or hub_log(session)).append(
        EventType.CORRECTION,
        source=source[:128],
        target=target[:128],
        resource=flag.resource,
        version=version if version is not None else flag.flagged_version,
        department=concerned,
        client=flag.reporter if flag.reporter_kind == "client" else None,
        case_number=flag.case_number,
        subject_hash=subject_hash(flag.record_key.split(KEY_SEPARATOR), keys=hub_subject_keys()),
        outcome="ok",
        details={"action": action, "flag_id": flag.id, "field": flag.field, "status": flag.status, **(extra or {})},
    )


def _reporter_party(flag: CorrectionFlag) -> str:
    return f"{flag.reporter_kind}:{flag.reporter}"


def _key_column(batch: pa.RecordBatch | pa.Table, keys: list[str]) -> pa.Array:
    """The primary key as one text column ("|" between the parts of a composite key)."""
    parts = [pc.cast(batch.column(k), pa.string()) for k in keys]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, KEY_SEPARATOR)


def _text(value: Any) -> str | None:
    """A published value as the text a flag keeps (ISO dates, plain decimals, true/false)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _short(record_key: str) -> str:
    return record_key if len(record_key) <= 8 else f"{record_key[:6]}…{record_key[-2:]}"
