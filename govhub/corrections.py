"""Data corrections (校核纠错) with the lake, the exchange log and the reporter's notices wired in.

`catalog.corrections` keeps the flags and their state machine; this module adds what needs the hub:
what a reporter may see (its grants, or its verification items), the flagged record's current value
read through the lake's public read API, an exchange-log event for every step (flagged, confirmed,
rejected, overdue, closed, notified; the record key only as a keyed subject hash), a notice file for
the reporter beside its deliveries (both in `govhub.correction_notices`), and the check that closes
confirmed flags once a published version carries a different value (`check_published`, called by the
pipeline after every publish).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import (
    CatalogAccessDenied,
    CatalogError,
    CorrectionFlag,
    Reporter,
    Resource,
    close_flag,
    decide_flag,
    get_resource,
    list_flags,
    mark_overdue,
    raise_flag,
)
from catalog.correction_models import short_key
from catalog.corrections import add_event, reopen_flag
from exchange.log import EventType, ExchangeLog
from govhub.correction_cases import check_case
from govhub.correction_notices import log_and_notify, log_step, notice_key
from govhub.correction_reads import read_values, visible_fields
from govhub.db import session_scope
from govhub.exchange_log import hub_log
from govhub.sharing_disputes import apply_sharing_limits
from schemas import AccessDenied, GovhubError

__all__ = [
    "check_published",
    "decide_logged",
    "flag_logged",
    "notice_key",
    "overdue_logged",
    "overdue_round",
    "refuse_decision",
]

logger = logging.getLogger(__name__)

_MISSING = object()  # a record the published version does not hold


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
        apply_sharing_limits()
        entry = get_resource(session, resource)
        fields = visible_fields(session, reporter, entry.resource)
        value, version = None, None
        if field in {item.name for item in entry.items} and (fields is None or field in fields):
            value, version = _published_value(session, reporter, entry, record_key, field, lake)
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
            flagged_value=value,
            flagged_version=version,
            now=now,
        )
        log_step(
            session, flag, "flagged", source=reporter.party, target=f"department:{flag.provider_code}", log=exchange_log
        )
        return flag


def _published_value(
    session: Session, reporter: Reporter, entry: Resource, record_key: str, field: str, lake: Any
) -> tuple[str | None, int | None]:
    """The value a reporter flags and the version it was read from; `CatalogError(not_found)` when the
    current published version does not hold the record."""
    if reporter.kind == "client":  # before the existence check: a client learns nothing about other keys
        check_case(session, reporter, entry, record_key, lake=lake)
    values, version = read_values(entry.resource, [(record_key, field)], lake=lake)
    if (record_key, field) not in values:
        raise CatalogError(
            f"{entry.resource} has no published record with key {short_key(record_key)} (version {version}); "
            f"give the record's {'+'.join(entry.primary_key)} as published",
            message_zh=f"资源 {entry.name} 的已发布数据中没有主键为 {short_key(record_key)} 的记录",
            kind="not_found",
            resource=entry.resource,
            field="record_key",
        )
    return values[(record_key, field)], version


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
    log_and_notify(session, flag, flag.status, source=f"department:{actor_department}", lake=lake, log=exchange_log)
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
        log_step(session, flag, "overdue", source="govhub", target=f"department:{flag.provider_code}", log=exchange_log)
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
        published, version = _published_values(resource, group, lake=lake)
        for flag, current in published:
            if current is not _MISSING and current == flag.flagged_value:
                continue
            close_flag(
                session, flag, version=version, reason="record_left" if current is _MISSING else "corrected", now=now
            )
            log_and_notify(session, flag, "closed", source="govhub", lake=lake, log=log, version=version)
            closed.append(flag)
    return closed


def _reopen_returned(session: Session, resource: str, *, lake: Any, now: datetime | None) -> list[CorrectionFlag]:
    """Reopen the flags closed because their record left whose record is published again with the flagged value.

    Closing on departure is right while the record is gone, but the provider confirmed that value wrong:
    a record re-inserted with it carries the same uncorrected error, so its answers must be marked under
    correction again. Back with another value, the flag stays closed. When a newer flag on the same record
    and field is active, that one follows the error and the old flag stays closed (an event says why).
    """
    left = list(
        session.scalars(
            select(CorrectionFlag)
            .where(
                CorrectionFlag.resource == resource,
                CorrectionFlag.status == "closed",
                CorrectionFlag.closed_reason == "record_left",
            )
            .order_by(CorrectionFlag.id)
        )
    )
    if not left:
        return []
    published, version = _published_values(resource, left, lake=lake)
    reopened = []
    for flag, current in published:
        if current is _MISSING or current != flag.flagged_value:
            continue
        note = f"version {version} holds the record again with the value confirmed wrong ({flag.flagged_value!r})"
        try:
            reopen_flag(session, flag, version=version, note=note, now=now)
        except CatalogError as e:  # a newer active flag follows the same error
            if not any(ev.action == "superseded" for ev in flag.events):
                add_event(flag, "superseded", "govhub", note=f"{note}; {e}", at=now)
            continue
        log_and_notify(session, flag, "reopened", source="govhub", lake=lake, log=None, version=version)
        reopened.append(flag)
    return reopened


def _published_values(
    resource: str, flags: list[CorrectionFlag], *, lake: Any
) -> tuple[list[tuple[CorrectionFlag, Any]], int | None]:
    """Each flag with its field's value in the current published version (`_MISSING`: the record left)."""
    values, version = read_values(resource, [(f.record_key, f.field) for f in flags], lake=lake)
    return [(f, values.get((f.record_key, f.field), _MISSING)) for f in flags], version
