"""Data corrections (校核纠错): a reported error on one field of one curated record, and its answer.

《政务数据共享条例》 sets up a checking and correction mechanism: users report errors, the providing
department checks them and corrects its data (article and time limit UNCONFIRMED: `CORRECTION_SOURCE`).
A flag names a resource, a record (its primary-key value), a field, what is wrong and the evidence. Its
life: ``open`` → ``confirmed`` (the provider agrees; the error is corrected at the source) → ``closed``
(by the hub, when a published version carries a different value or no longer holds the record: its
``closed_reason``, ``corrected`` or ``record_left``), or ``open`` → ``rejected`` (with reasons, final).
A flag closed because its record left goes back to
``confirmed`` (``reopened``) when the record is published again carrying the value confirmed wrong: the
error was never corrected, so the flag must neither vanish nor stay closed. An open flag past its due
date is marked overdue once. Only the provider decides.

Reporters are a department (a granted subscription whose fields include the flagged one), an approval
system (a verification client, with its case number 办件编号) or a data administrator. What a reporter
may see is computed by the caller (`visible_fields`: the hub knows clients and the lake), checked here.
The stored flags and steps are `catalog.correction_models`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.correction_models import (
    ACTIVE_STATES,
    ClosedReason,
    CorrectionEvent,
    CorrectionFlag,
    Reporter,
    short_key,
)
from catalog.errors import CatalogAccessDenied, CatalogError, CatalogErrorKind
from catalog.resources import get_resource
from catalog.sharing_rules import CORRECTION_SOURCE, current_limits
from catalog.subscriptions import SYSTEM_ACTOR, _aware, _now
from catalog.workdays import add_working_days

__all__ = [
    "add_event",
    "close_flag",
    "decide_flag",
    "get_flag",
    "list_flags",
    "mark_overdue",
    "may_see",
    "raise_flag",
    "record_left",
    "reopen_flag",
]

log = logging.getLogger(__name__)


def raise_flag(
    session: Session,
    *,
    reporter: Reporter,
    resource: str,
    record_key: str,
    field: str,
    problem: str,
    evidence_text: str | None = None,
    evidence_ref: str | None = None,
    visible_fields: Collection[str] | None,
    flagged_value: str | None,
    flagged_version: int | None,
    now: datetime | None = None,
) -> CorrectionFlag:
    """Record a reported error; the provider's answer is due in `correction_working_days` working days.

    `visible_fields` are the resource's fields the reporter may see (None: all, for administrators);
    the caller has checked that the record exists and read its `flagged_value`. Raises `CatalogError`
    for an unknown resource or field, a missing problem or evidence, a client without a case number, or
    a duplicate active flag on the same record and field; `AccessDenied` when the reporter cannot see
    the field (no grant) or provides the resource itself.
    """
    now = _now(now)
    entry = get_resource(session, resource)
    names = [item.name for item in entry.items]
    if field not in names:
        raise _refusal(
            entry.resource,
            field,
            f"resource {entry.resource} has no field {field!r}; fields: {', '.join(names)}",
            f"资源 {entry.name} 没有信息项 {field}",
            "not_found",
        )
    if reporter.kind == "department" and reporter.id == entry.provider_code:
        raise CatalogAccessDenied(
            f"department {reporter.id} provides {entry.resource}: correct {field} at the source instead of flagging it",
            message_zh=f"本部门是资源 {entry.name} 的提供部门，请直接在源系统更正，无需提出纠错",
            department=reporter.id,
        )
    if visible_fields is not None and field not in visible_fields:
        raise CatalogAccessDenied(
            f"{reporter.party} has no grant that shows {entry.resource}.{field}: only data a reporter receives "
            "(a granted subscription, or a verification item it may ask) can be flagged; apply for it first",
            message_zh=f"无权对资源 {entry.name} 的信息项 {field} 提出纠错：未获得该信息项的共享授权",
            department=reporter.id,
        )
    problem = (problem or "").strip()
    if not problem:
        raise _refusal(
            entry.resource,
            "problem",
            "problem is required: say what is wrong with the value",
            "必须说明数据错误的情况（problem）",
        )
    evidence_text = (evidence_text or "").strip() or None
    evidence_ref = (evidence_ref or "").strip() or None
    if evidence_text is None and evidence_ref is None:
        raise _refusal(
            entry.resource,
            "evidence",
            "evidence is required: give evidence: a text, a reference (document number, file), or both",
            "必须提供证据（说明或材料编号）",
        )
    if reporter.kind == "client" and not (reporter.case_number or "").strip():
        raise _refusal(
            entry.resource,
            "case_number",
            "case_number is required: an approval system reports with its case number (办件编号)",
            "核验客户端纠错须提供办件编号",
        )
    where = f"{entry.resource} record {short_key(record_key)} field {field}"
    duplicate = _active_flag(session, entry.resource, record_key, field)
    if duplicate is not None:
        raise _refusal(
            entry.resource,
            field,
            f"{where} already has {duplicate.status} flag #{duplicate.id}; "
            f"follow it (GET /api/corrections/{duplicate.id}) instead of flagging again",
            f"该记录的信息项 {field} 已有纠错 #{duplicate.id}（{duplicate.status}），请勿重复提出",
            "conflict",
        )
    days = current_limits().correction_working_days
    flag = CorrectionFlag(
        resource=entry.resource,
        record_key=record_key,
        field=field,
        provider_code=entry.provider_code,
        reporter_kind=reporter.kind,
        reporter=reporter.id,
        case_number=(reporter.case_number or "").strip() or None,
        problem=problem,
        evidence_text=evidence_text,
        evidence_ref=evidence_ref,
        flagged_value=flagged_value,
        flagged_version=flagged_version,
        status="open",
        raised_at=now,
        due_at=add_working_days(now, days),
        events=[],
    )
    session.add(flag)
    add_event(
        flag,
        "flagged",
        reporter.party,
        at=now,
        note=f"{problem} [answer due in {days} working days: {CORRECTION_SOURCE}]",
    )
    try:
        session.flush()
    except IntegrityError as e:  # a flag on the same record and field was stored meanwhile (two reporters at once)
        raise _refusal(
            entry.resource,
            field,
            f"{where} was flagged by another request just now; "
            "list the flags (GET /api/corrections) and follow that one",
            f"该记录的信息项 {field} 刚刚已有纠错，请勿重复提出",
            "conflict",
        ) from e
    log.info("correction #%s: %s flagged %s.%s", flag.id, reporter.party, entry.resource, field)
    return flag


def decide_flag(
    session: Session,
    flag_id: int,
    *,
    actor_department: str,
    confirm: bool,
    reason: str | None,
    now: datetime | None = None,
) -> CorrectionFlag:
    """The provider confirms the error (it will correct the source) or rejects the flag with reasons.

    Raises `AccessDenied` for anyone but the provider; `CatalogError` when the flag is not open or a
    rejection has no reason.
    """
    now = _now(now)
    flag = get_flag(session, flag_id)
    if actor_department != flag.provider_code:
        raise CatalogAccessDenied(
            f"only the provider of {flag.resource} ({flag.provider_code}) may confirm or reject correction "
            f"#{flag.id}; {actor_department} may not",
            message_zh=f"只有数据提供部门可以核实纠错 #{flag.id}",
            department=actor_department,
        )
    if flag.status != "open":
        raise CatalogError(
            f"correction #{flag.id} was already answered: it is {flag.status} (by {flag.decided_by}); "
            "an answer is final",
            message_zh=f"纠错 #{flag.id} 已处理（{flag.status}），不能重复处理",
            kind="conflict",
            resource=flag.resource,
        )
    reason = (reason or "").strip() or None
    if not confirm and reason is None:
        raise _refusal(
            flag.resource,
            "reason",
            f"rejecting correction #{flag.id} needs reasons: say why the value is right",
            "驳回纠错必须说明理由（reason）",
        )
    late = _aware(flag.due_at) < now
    note = (reason or "") + (f" [answered after the due date {_aware(flag.due_at).isoformat()}]" if late else "")
    flag.status = "confirmed" if confirm else "rejected"
    flag.decided_by, flag.decided_at, flag.decision_reason = actor_department, now, reason
    add_event(flag, flag.status, f"department:{actor_department}", at=now, note=note.strip() or None)
    session.flush()
    log.info("correction #%s %s by %s", flag.id, flag.status, actor_department)
    return flag


def close_flag(
    session: Session, flag: CorrectionFlag, *, version: int | None, reason: ClosedReason, now: datetime | None = None
) -> CorrectionFlag:
    """Close a confirmed flag: published `version` carries another value (`corrected`) or no longer holds the
    record (`record_left`); the reason is kept in `closed_reason` and said in the closing step's note."""
    if flag.status != "confirmed":
        raise CatalogError(
            f"correction #{flag.id} is {flag.status}: only a confirmed flag closes",
            message_zh=f"纠错 #{flag.id} 当前状态为 {flag.status}，只有已确认的纠错可以关闭",
            kind="conflict",
        )
    note = (
        f"version {version} no longer holds the record"
        if reason == "record_left"
        else f"version {version} carries a corrected value (was {flag.flagged_value!r})"
    )
    _close_or_reopen(session, flag, "closed", version=version, reason=reason, note=note, now=now)
    log.info("correction #%s closed (%s) at version %s", flag.id, reason, version)
    return flag


def record_left(flag: CorrectionFlag) -> bool:
    """A closed flag whose latest closing was its record leaving the published version (not a corrected value)."""
    return flag.status == "closed" and flag.closed_reason == "record_left"


def reopen_flag(
    session: Session, flag: CorrectionFlag, *, version: int | None, note: str, now: datetime | None = None
) -> CorrectionFlag:
    """Put a flag closed by its record leaving back to ``confirmed`` (its closing cleared, `closed_reason`
    too): `version` holds the record again with the value the provider confirmed wrong. Raises
    `CatalogError(conflict)` for any other flag, and when another flag on the same record and field is
    active (it already follows the error)."""
    if not record_left(flag):
        raise CatalogError(
            f"correction #{flag.id} is {flag.status}: only a flag closed because its record left reopens",
            message_zh=f"纠错 #{flag.id} 当前状态为 {flag.status}，只有因记录删除而关闭的纠错可以重新打开",
            kind="conflict",
            resource=flag.resource,
        )
    other = _active_flag(session, flag.resource, flag.record_key, flag.field)
    if other is not None:
        raise _refusal(
            flag.resource,
            flag.field,
            f"correction #{flag.id} cannot reopen: {flag.resource} record {short_key(flag.record_key)} field "
            f"{flag.field} is followed by {other.status} flag #{other.id}",
            f"纠错 #{flag.id} 不能重新打开：该记录的信息项 {flag.field} 已有纠错 #{other.id}",
            "conflict",
        )
    _close_or_reopen(session, flag, "reopened", version=None, reason=None, note=note, now=now)
    log.warning("correction #%s reopened: version %s carries the flagged value again", flag.id, version)
    return flag


def mark_overdue(session: Session, *, now: datetime | None = None) -> list[CorrectionFlag]:
    """Open flags past their due date not yet marked: each is marked once (and returned) now."""
    now = _now(now)
    found = session.scalars(  # rows another worker is marking are skipped: each flag is marked once
        select(CorrectionFlag)
        .where(CorrectionFlag.status == "open", CorrectionFlag.overdue_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    marked = [flag for flag in found if flag.overdue(now)]
    for flag in marked:
        flag.overdue_at = now
        add_event(flag, "overdue", SYSTEM_ACTOR, at=now, note=f"no answer by {_aware(flag.due_at).isoformat()}")
        log.warning("correction #%s on %s is overdue (due %s)", flag.id, flag.resource, flag.due_at)
    session.flush()
    return marked


def get_flag(session: Session, flag_id: int) -> CorrectionFlag:
    """One flag by id; `CatalogError(not_found)` when unknown."""
    flag = session.get(CorrectionFlag, flag_id)
    if flag is None:
        raise CatalogError(f"unknown correction #{flag_id}", message_zh=f"纠错 #{flag_id} 不存在", kind="not_found")
    return flag


def list_flags(
    session: Session,
    *,
    viewer: Reporter | None = None,
    status: str | None = None,
    resource: str | None = None,
) -> list[CorrectionFlag]:
    """Flags a viewer may see, oldest first: a department those it raised and those on what it provides,
    a client those it raised, an administrator (or None) all."""
    query = select(CorrectionFlag).order_by(CorrectionFlag.id)
    if status is not None:
        query = query.where(CorrectionFlag.status == status)
    if resource is not None:
        query = query.where(CorrectionFlag.resource == resource)
    if viewer is not None and viewer.kind == "department":
        mine = (CorrectionFlag.reporter_kind == "department") & (CorrectionFlag.reporter == viewer.id)
        query = query.where(mine | (CorrectionFlag.provider_code == viewer.id))
    elif viewer is not None and viewer.kind == "client":
        query = query.where(CorrectionFlag.reporter_kind == "client", CorrectionFlag.reporter == viewer.id)
    return list(session.scalars(query))


def may_see(flag: CorrectionFlag, viewer: Reporter) -> bool:
    """The reporter, the provider and administrators see a flag."""
    if viewer.kind == "admin":
        return True
    mine = flag.reporter_kind == viewer.kind and flag.reporter == viewer.id
    return mine or (viewer.kind == "department" and flag.provider_code == viewer.id)


def add_event(flag: CorrectionFlag, action: str, actor: str, *, note: str | None, at: datetime | None = None) -> None:
    """Add one step to a flag's history (e.g. `notified`: the reporter was told)."""
    flag.events.append(CorrectionEvent(action=action, actor=actor[:80], at=_now(at), note=note))


def _close_or_reopen(
    session: Session,
    flag: CorrectionFlag,
    action: Literal["closed", "reopened"],
    *,
    version: int | None,
    reason: ClosedReason | None,
    note: str,
    now: datetime | None,
) -> None:
    """The hub's step: a closing keeps when, at which version and why; a reopening (back to confirmed) clears them."""
    now = _now(now)
    closing = action == "closed"
    flag.status = "closed" if closing else "confirmed"
    flag.closed_at, flag.closed_version, flag.closed_reason = (now, version, reason) if closing else (None, None, None)
    add_event(flag, action, SYSTEM_ACTOR, at=now, note=note)
    session.flush()


def _active_flag(session: Session, resource: str, record_key: str, field: str) -> CorrectionFlag | None:
    """The open or confirmed flag on a record's field, if any (the store holds one at most)."""
    return session.scalars(
        select(CorrectionFlag).where(
            CorrectionFlag.resource == resource,
            CorrectionFlag.record_key == record_key,
            CorrectionFlag.field == field,
            CorrectionFlag.status.in_(ACTIVE_STATES),
        )
    ).first()


def _refusal(
    resource: str, field: str, message: str, message_zh: str, kind: CatalogErrorKind = "invalid"
) -> CatalogError:
    """A refused step naming the resource and the field it is about (`kind` picks the API's 404/422/409)."""
    return CatalogError(message, message_zh=message_zh, kind=kind, resource=resource, field=field)
