"""Verification that costs what is new: the last verified signed checkpoint, incremental checks, full walks.

The hub remembers the newest signed checkpoint a walk has verified (the `verified` mark). Pages, alerts
and the checkpointer verify only the events after it (`check_incremental`); an edit *before* it is the
full walk's job (`check_full`: `govhub log verify`, the scheduled `exchange_log_check` DAG), whose
result is recorded and shown by the monitor until a later full walk passes. One check runs at a time
per database in a process: callers arriving meanwhile wait for its result (single flight).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from datetime import datetime
from typing import Literal, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from catalog import utcnow
from exchange.log.log import ExchangeLog
from exchange.log.models import ChainCheck, Checkpoint, LogMark
from exchange.log.report import ChainReport

__all__ = [
    "SingleFlight",
    "catch_up_checkpoints",
    "check_full",
    "check_incremental",
    "last_full_check",
    "verified_mark",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
_VERIFIED = "verified"


class SingleFlight:
    """At most one call per key at a time; callers arriving while it runs get its result (or its error)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, Future[object]] = {}
        self.calls = 0  # how many times the function really ran (tests, figures)

    def run(self, key: str, work: Callable[[], T]) -> T:
        with self._lock:
            flight = self._running.get(key)
            leader = flight is None
            if leader:
                flight = self._running[key] = Future()
                self.calls += 1
        assert flight is not None
        if not leader:
            return flight.result()  # type: ignore[return-value]
        try:
            result = work()
        except BaseException as e:
            flight.set_exception(e)
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            with self._lock:
                self._running.pop(key, None)


_flights = SingleFlight()


def _engine(xlog: ExchangeLog) -> Engine:
    bind = xlog._bind
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    assert isinstance(engine, Engine)
    return engine


def verified_mark(session: Session) -> LogMark | None:
    """The last verified signed checkpoint (seq, hash, checkpoint id), or None before the first check."""
    return session.get(LogMark, _VERIFIED)


def last_full_check(session: Session) -> ChainCheck | None:
    """The newest recorded full walk (scheduled or `govhub log verify`)."""
    return session.scalars(select(ChainCheck).where(ChainCheck.kind == "full").order_by(ChainCheck.id.desc())).first()


def _advance(session: Session, report: ChainReport) -> bool:
    """Move the verified mark to the newest checkpoint the walk verified; True when it moved."""
    if not report.ok or report.newest_checkpoint_id is None:
        return False
    checkpoint = session.get(Checkpoint, report.newest_checkpoint_id)
    mark = verified_mark(session)
    if checkpoint is None or (mark is not None and mark.seq >= checkpoint.seq):
        return False
    if mark is None:
        mark = LogMark(name=_VERIFIED)
        session.add(mark)
    mark.seq, mark.hash, mark.checkpoint_id, mark.updated_at = (
        checkpoint.seq,
        checkpoint.head_hash,
        checkpoint.id,
        utcnow(),
    )
    return True


def _record(
    session: Session, kind: Literal["full", "incremental"], report: ChainReport, started: datetime, seconds: float
) -> None:
    session.add(
        ChainCheck(
            kind=kind,
            started_at=started,
            seconds=round(seconds, 3),
            ok=report.ok,
            from_seq=report.first_seq,
            to_seq=report.last_seq,
            events=report.events_checked,
            unsigned_tail=report.unsigned_tail,
            problem=report.problem,
            first_bad_seq=report.first_bad_seq,
            detail=report.detail[:2000] or None,
        )
    )


def check_incremental(xlog: ExchangeLog) -> ChainReport:
    """Verify the events after the last verified signed checkpoint (single flight per database).

    Checks the signatures of the checkpoints at or after the mark, recomputes every newer event's hash and
    link, and the end against the head row; then moves the mark to the newest checkpoint it verified.
    A failure is recorded (kind `incremental`); a success only when the mark moves.
    """
    engine = _engine(xlog)

    def work() -> ChainReport:
        started, clock = utcnow(), time.perf_counter()
        with Session(engine, expire_on_commit=False) as session:
            mark = verified_mark(session)
            start = (mark.seq, mark.hash) if mark is not None else None
        reader = ExchangeLog(engine, trusted_keys=xlog.trusted_keys, signature_verifier=xlog.signature_verifier)
        report = reader.verify(start=start)
        with Session(engine) as session:
            moved = _advance(session, report)
            if moved or not report.ok:
                _record(session, "incremental", report, started, time.perf_counter() - clock)
            session.commit()
        return report

    return _flights.run(f"incremental:{engine.url}", work)


def check_full(xlog: ExchangeLog, *, archives: object | None = None, parallel: bool = True) -> ChainReport:
    """Walk the whole chain (archives re-read when `archives` is the lake), record the result, move the mark."""
    engine = _engine(xlog)

    def work() -> ChainReport:
        started, clock = utcnow(), time.perf_counter()
        reader = ExchangeLog(engine, trusted_keys=xlog.trusted_keys, signature_verifier=xlog.signature_verifier)
        report = reader.verify(archives=archives, parallel=parallel)  # type: ignore[arg-type]
        with Session(engine) as session:
            _advance(session, report)
            _record(session, "full", report, started, time.perf_counter() - clock)
            session.commit()
        return report

    return _flights.run(f"full:{engine.url}", work)


def catch_up_checkpoints(xlog: ExchangeLog) -> tuple[ChainReport, int]:
    """Sign every checkpoint boundary appended without the key, after verifying up to it; (report, signed).

    Nothing is signed over a broken chain: the incremental check must pass first. The newest boundary
    signed becomes the verified mark (the walk just verified it).
    """
    if xlog.signer is None:
        raise ValueError("catch_up_checkpoints needs a log with a signer")
    report = check_incremental(xlog)
    if not report.ok:
        return report, 0
    upto = report.last_seq if report.last_seq is not None else (report.newest_checkpoint_seq or 0)
    signed = ExchangeLog(
        _engine(xlog), signer=xlog.signer, checkpoint_every=xlog.checkpoint_every, trusted_keys=xlog.trusted_keys
    ).sign_boundaries(upto=upto)
    if not signed:
        return report, 0
    newest = signed[-1]
    with Session(_engine(xlog)) as session:
        _advance(session, replace(report, newest_checkpoint_id=newest.id, newest_checkpoint_seq=newest.seq))
        session.commit()
    log.info("signed %s checkpoint(s) the appenders left unsigned, up to seq %s", len(signed), newest.seq)
    return replace(report, unsigned_tail=max(0, (report.last_seq or 0) - newest.seq)), len(signed)
