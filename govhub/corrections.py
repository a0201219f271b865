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
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from catalog import (
    CatalogAccessDenied,
    CatalogError,
    CorrectionFlag,
    Reporter,
    close_flag,
    decide_flag,
    get_resource,
    list_flags,
    mark_overdue,
    raise_flag,
)
from catalog.corrections import RECORD_LEFT, CorrectionEvent, add_event, record_left, reopen_flag
from exchange.log import EventType, ExchangeLog
from exchange.subjects import subject_hash
from govhub.correction_cases import check_case
from govhub.correction_reads import KEY_SEPARATOR, read_values, visible_fields
from govhub.db import session_scope
from govhub.delivery_runner import open_lake
from govhub.exchange_log import hub_log, hub_subject_keys
from govhub.sharing_disputes import apply_sharing_limits
from schemas import AccessDenied, GovhubError

__all__ = [
    "check_published",
    "decide_logged",
    "flag_logged",
    "notice_key",
    "overdue_logged",
    "overdue_round",
]

logger = logging.getLogger(__name__)
_NOTICES = "govhub.correction_notices"  # session.info key of the notices waiting for the commit

_MISSING = object()


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

    Raises `CatalogError(not_found)` when the record is not in the current published version,
    `AccessDenied` when an approval system's case did not ask about it (`correction_cases`), and
    whatever `catalog.raise_flag` raises (unknown field, no grant, duplicate...). A refusal rolls the
    session back, commits a `flag_refused` event naming the rule, and re-raises.
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
    apply_sharing_limits()
    entry = get_resource(session, resource)
    fields = visible_fields(session, reporter, entry.resource)
    value: Any = _MISSING
    version = None
    if field in {item.name for item in entry.items} and (fields is None or field in fields):
        if reporter.kind == "client":  # before the existence check: a client learns nothing about other keys
            check_case(session, reporter, entry, record_key, lake=lake)
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
    carries another value (the source was fixed before the answer) closes at once. A refusal (not the
    provider, not open, no reasons) rolls back, commits a `decision_refused` event and re-raises."""
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


def refuse_decision(
    session: Session, flag_id: int, *, reporter: Reporter, exchange_log: ExchangeLog | None = None
) -> NoReturn:
    """Only the providing department answers a flag: a data administrator's or approval system's decision
    is refused (`AccessDenied`), logged as a `decision_refused` event naming the caller, and nothing changes."""
    with _refusals_logged(
        session, "decision_refused", party=reporter.party, flag_id=flag_id, reporter=reporter, log=exchange_log
    ):
        raise CatalogAccessDenied(
            f"{reporter.party} cannot confirm or reject correction #{flag_id}: only the providing department "
            "answers a flag (administrators and approval systems flag and follow it)",
            message_zh=f"无权确认或驳回纠错 #{flag_id}：只有数据提供部门可以答复纠错"
            "（管理员和审批系统可提出并跟踪纠错）",
        )


def overdue_logged(
    session: Session, *, exchange_log: ExchangeLog | None = None, now: datetime | None = None
) -> list[CorrectionFlag]:
    """Mark open flags past their due date (once each) and log an `overdue` event for each."""
    marked = mark_overdue(session, now=now)
    for flag in marked:
        _log(session, flag, "overdue", source="govhub", target=f"department:{flag.provider_code}", log=exchange_log)
    return marked


def overdue_round(*, now: datetime | None = None) -> int:
    """The scheduled marking of overdue flags (the web app's maintenance): its own transaction; how many marked."""
    with session_scope() as session:
        return len(overdue_logged(session, now=now))


def check_published(resource: str, *, lake: Any = None, now: datetime | None = None) -> list[CorrectionFlag]:
    """After `resource` published: close each confirmed flag whose record now carries another value (or left),
    and reopen each flag closed because its record left when the record is back with the flagged value.

    Idempotent: a flag is compared with the current version each time, so a check missed after a
    crash is made by the next publish (or `govhub correction check`). Also marks overdue flags.
    Returns the flags it closed.
    """
    with session_scope() as session:
        overdue_logged(session, now=now)
        _reopen_returned(session, resource, lake=lake, now=now)
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
                f"version {version} {RECORD_LEFT}"
                if current is _MISSING
                else f"version {version} carries a corrected value (was {flag.flagged_value!r})"
            )
            close_flag(session, flag, version=version, note=note, now=now)
            _log(session, flag, "closed", source="govhub", target=_reporter_party(flag), log=log, version=version)
            _notify(session, flag, "closed", lake=lake, log=log)
            closed.append(flag)
    return closed


def _reopen_returned(session: Session, resource: str, *, lake: Any, now: datetime | None) -> list[CorrectionFlag]:
    """Reopen the flags closed because their record left whose record is published again with the flagged value.

    Closing on departure is right while the record is gone, but the provider confirmed that value wrong:
    a record re-inserted with it carries the same uncorrected error, so its answers must be marked under
    correction again. Back with another value, the flag stays closed. When a newer flag on the same record
    and field is active, that one follows the error and the old flag stays closed (an event says why).
    """
    left = [
        flag
        for flag in session.scalars(
            select(CorrectionFlag)
            .where(CorrectionFlag.resource == resource, CorrectionFlag.status == "closed")
            .where(
                CorrectionFlag.id.in_(
                    select(CorrectionEvent.flag_id).where(
                        CorrectionEvent.action == "closed", CorrectionEvent.note.contains(RECORD_LEFT)
                    )
                )
            )
            .order_by(CorrectionFlag.id)
        )
        if record_left(flag)
    ]
    if not left:
        return []
    values, version = read_values(resource, [(f.record_key, f.field) for f in left], lake=lake)
    reopened = []
    for flag in left:
        current = values.get((flag.record_key, flag.field), _MISSING)
        if current is _MISSING or current != flag.flagged_value:
            continue
        note = f"version {version} holds the record again with the value confirmed wrong ({flag.flagged_value!r})"
        try:
            reopen_flag(session, flag, version=version, note=note, now=now)
        except CatalogError as e:  # a newer active flag follows the same error
            if not any(ev.action == "superseded" for ev in flag.events):
                add_event(flag, "superseded", "govhub", note=f"{note}; {e}", at=now)
            continue
        _log(session, flag, "reopened", source="govhub", target=_reporter_party(flag), log=None, version=version)
        _notify(session, flag, "reopened", lake=lake, log=None)
        reopened.append(flag)
    return reopened


def _notify(session: Session, flag: CorrectionFlag, action: str, *, lake: Any, log: ExchangeLog | None) -> None:
    """Record that the reporter is told, and write its notice (JSON) once the transaction commits.

    Written after the commit, so a rolled-back step leaves no notice behind; the notice's name is fixed
    by flag and step, so writing it again (a re-run) replaces it. The API's event feed is the record.
    """
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
    add_event(flag, "notified", "govhub", note=f"{action}: {key}")
    _log(session, flag, "notified", source="govhub", target=_reporter_party(flag), log=log, extra={"notice": key})
    _pending_notices(session).append((lake, key, notice))


def _pending_notices(session: Session) -> list[tuple[Any, str, dict[str, Any]]]:
    """The notices of the session's open transaction: written after its commit, dropped by a rollback."""
    if _NOTICES not in session.info:
        session.info[_NOTICES] = []

        def written(committed: Session) -> None:
            pending, committed.info[_NOTICES] = committed.info[_NOTICES], []
            for lake, key, notice in pending:
                _write_notice(lake, key, notice)

        def dropped(rolled_back: Session, _transaction: Any) -> None:
            rolled_back.info[_NOTICES] = []

        event.listen(session, "after_commit", written)
        event.listen(session, "after_soft_rollback", dropped)
    pending: list[tuple[Any, str, dict[str, Any]]] = session.info[_NOTICES]
    return pending


def _write_notice(lake: Any, key: str, notice: dict[str, Any]) -> None:
    """Put one notice file in the lake's object store; a failure is logged (the event feed still tells)."""
    from lake import ObjectStore

    fd, tmp = tempfile.mkstemp(suffix=".json", prefix="govhub-notice-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(notice, f, ensure_ascii=False, sort_keys=True)
        ObjectStore.from_lake(lake or open_lake()).put_file(key, tmp, content_type="application/json")
    except Exception:
        logger.exception(
            "the correction notice %s could not be written; the reporter still sees the step in the API", key
        )
    finally:
        os.unlink(tmp)


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


def _short(record_key: str) -> str:
    return record_key if len(record_key) <= 8 else f"{record_key[:6]}…{record_key[-2:]}"
