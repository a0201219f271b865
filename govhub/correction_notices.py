"""What the hub tells about a data correction (校核纠错): an exchange-log event for every step, and the
reporter's notice file in the lake beside its deliveries, written once the step's transaction commits.

The steps themselves are taken by `govhub.corrections`; the record key reaches the log only as a keyed
subject hash (it may be a citizen ID).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from catalog import CorrectionFlag
from catalog.corrections import add_event
from exchange.log import EventType, ExchangeLog
from exchange.subjects import subject_hash
from govhub.correction_reads import KEY_SEPARATOR
from govhub.delivery_runner import open_lake
from govhub.exchange_log import hub_log, hub_subject_keys

__all__ = ["log_and_notify", "log_step", "notice_key", "notify"]

logger = logging.getLogger(__name__)
_NOTICES = "govhub.correction_notices"  # session.info key of the notices waiting for the commit


def notice_key(flag: CorrectionFlag, action: str) -> str:
    """Where the reporter's notice is written in the lake's object store (beside its deliveries)."""
    if flag.reporter_kind == "department":
        return f"deliveries/{flag.reporter}/notices/correction-{flag.id}-{action}.json"
    return f"notices/{flag.reporter_kind}/{flag.reporter}/correction-{flag.id}-{action}.json"


def log_and_notify(
    session: Session,
    flag: CorrectionFlag,
    action: str,
    *,
    source: str,
    lake: Any,
    log: ExchangeLog | None,
    version: int | None = None,
) -> None:
    """A step the reporter is told of (an answer, a closing, a reopening): logged, then notified."""
    log_step(session, flag, action, source=source, target=flag.reporter_party, log=log, version=version)
    notify(session, flag, action, lake=lake, log=log)


def notify(session: Session, flag: CorrectionFlag, action: str, *, lake: Any, log: ExchangeLog | None) -> None:
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
    log_step(session, flag, "notified", source="govhub", target=flag.reporter_party, log=log, extra={"notice": key})
    _pending_notices(session).append((lake, key, notice))


def log_step(
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
