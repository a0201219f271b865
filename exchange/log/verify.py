"""Walk the exchange-log chain: name the first event changed, removed, reordered or inserted."""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from exchange.crypto import SealError
from exchange.log._hashing import checkpoint_payload, event_hash
from exchange.log.errors import ChainBrokenError, ExchangeLogError
from exchange.log.models import GENESIS_HASH, ArchiveRecord, ChainHead, Checkpoint, ExchangeEvent

if TYPE_CHECKING:
    from exchange.log.archive import ArchiveBatch

__all__ = ["ChainReport", "Problem", "format_report", "verify_chain"]

log = logging.getLogger(__name__)

Problem = Literal["changed", "removed", "reordered", "inserted", "bad_checkpoint_signature", "checkpoint_mismatch"]
_EVENTS = ExchangeEvent.__table__
_CHUNK = 5000


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found. `first_bad_seq`/`first_bad_event_id` name the first present event at fault
    (for "removed": the first event after the gap; `missing_seqs` is the gap, inclusive)."""

    ok: bool
    events_checked: int
    checkpoints_checked: int
    archives_checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_hash: str | None = None
    problem: Problem | None = None
    first_bad_seq: int | None = None
    first_bad_event_id: str | None = None
    missing_seqs: tuple[int, int] | None = None
    bad_checkpoint_ids: tuple[int, ...] = ()
    detail: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    unsigned_tail: int = 0
    """Events after the newest valid signed checkpoint the walk reached: protected by the head row only."""
    newest_checkpoint_id: int | None = None
    newest_checkpoint_seq: int | None = None


@dataclass
class _Point:
    seq: int
    hash: str


@dataclass
class _Finding:
    problem: Problem
    seq: int | None
    event_id: str | None
    detail: str
    missing: tuple[int, int] | None = None


def _default_verifier() -> Callable[..., bool]:
    from exchange.crypto import verify_signature  # lazy: the log works without crypto until a checkpoint

    return verify_signature


def _check_signatures(
    checkpoints: list[Checkpoint], trusted: Mapping[str, str], verifier: Callable[..., bool] | None
) -> tuple[list[int], list[str]]:
    """Ids of checkpoints whose signature fails (or whose key is not trusted), plus notes."""
    bad: list[int] = []
    notes: list[str] = []
    if checkpoints and verifier is None:
        verifier = _default_verifier()
    if checkpoints and not trusted:
        notes.append("no trusted keys given: checkpoint signatures checked against the keys stored with them")
    for cp in checkpoints:
        pem = trusted.get(cp.key_id) if trusted else cp.public_key_pem
        if pem is None:
            bad.append(cp.id)
            continue
        data = checkpoint_payload(
            seq=cp.seq,
            head_hash=cp.head_hash,
            signed_at=cp.signed_at,
            key_id=cp.key_id,
            algorithm=cp.algorithm,
        )
        try:
            signature = base64.b64decode(cp.signature, validate=True)
            good = bool(verifier(public_key_pem=pem, algorithm=cp.algorithm, data=data, signature=signature))
        except (ValueError, TypeError, SealError) as e:
            log.warning("checkpoint %s: signature unreadable: %s", cp.id, e)
            good = False
        if not good:
            bad.append(cp.id)
    return bad, notes


def _db_rows(session: Session, after: int) -> Iterator[Mapping[str, Any]]:
    """Events with seq > after, in seq order, read in chunks (keyset paging, constant memory)."""
    while True:
        chunk = session.execute(select(_EVENTS).where(_EVENTS.c.seq > after).order_by(_EVENTS.c.seq).limit(_CHUNK))
        rows = [r._mapping for r in chunk]
        if not rows:
            return
        yield from rows
        after = rows[-1]["seq"]


def _lookup(session: Session, **where: Any) -> Mapping[str, Any] | None:
    stmt = select(_EVENTS.c.seq, _EVENTS.c.event_id, _EVENTS.c.hash)
    for name, value in where.items():
        stmt = stmt.where(_EVENTS.c[name] == value)
    row = session.execute(stmt.order_by(_EVENTS.c.seq).limit(1)).first()
    return None if row is None else row._mapping


def _rehash(row: Mapping[str, Any]) -> str | None:
    """The event's hash recomputed; None when a stored value cannot be hashed at all (e.g. bytes written into
    a text column): such a row was changed, and is reported like any other changed row."""
    try:
        return event_hash(row)
    except (SealError, TypeError, ValueError, OverflowError) as e:
        log.warning("event seq %s cannot be hashed: %s", row.get("seq"), e)
        return None


_UNDECODABLE = (ValueError, TypeError, OverflowError)


def _undecodable(session: Session, prev: _Point) -> _Finding:
    """Name the first event after `prev` that cannot be read back (SQLite keeps any value in any column:
    text in a time, broken JSON in details); such an event was changed outside the hub."""
    after = prev.seq
    while True:
        head = session.execute(
            select(_EVENTS.c.seq, _EVENTS.c.event_id).where(_EVENTS.c.seq > after).order_by(_EVENTS.c.seq).limit(1)
        ).first()
        if head is None:
            return _Finding("changed", None, None, f"an event after seq {prev.seq} cannot be read back")
        try:
            session.execute(select(_EVENTS).where(_EVENTS.c.seq == head.seq)).all()
        except _UNDECODABLE as e:
            return _Finding(
                "changed",
                head.seq,
                head.event_id,
                f"event seq {head.seq} (id {head.event_id}) was changed after it was recorded: a stored value "
                f"cannot be read back as its column's type ({type(e).__name__}: {e})",
            )
        after = head.seq


def _classify(session: Session, prev: _Point, row: Mapping[str, Any]) -> _Finding:
    """Why `row` does not follow `prev` (tamper path only, so it may query freely)."""
    seq, rid, content_ok = row["seq"], row["event_id"], _rehash(row) == row["hash"]
    if row["prev_hash"] == prev.hash or (not content_ok and _rehash({**row, "prev_hash": prev.hash}) == row["hash"]):
        what = (
            "its stored hash no longer matches its fields"
            if row["prev_hash"] == prev.hash
            else "its prev_hash was edited"
        )
        return _Finding("changed", seq, rid, f"event seq {seq} (id {rid}) was changed after it was recorded: {what}")
    claimed = _lookup(session, hash=row["prev_hash"])
    if claimed is not None and claimed["seq"] < prev.seq:
        first = _lookup(session, seq=claimed["seq"] + 1) or row
        return _Finding(
            "inserted",
            first["seq"],
            first["event_id"],
            f"event seq {first['seq']} (id {first['event_id']}) was inserted: event seq {seq} links back to "
            f"seq {claimed['seq']}, so the events from seq {claimed['seq'] + 1} to {prev.seq} are not part "
            "of the chain",
        )
    if claimed is not None and claimed["seq"] > seq:
        return _Finding(
            "reordered",
            seq,
            rid,
            f"event seq {seq} (id {rid}) was reordered: it links to event id {claimed['event_id']}, now at "
            f"seq {claimed['seq']}, after it; the two events' positions were swapped or moved",
        )
    referenced = _lookup(session, prev_hash=row["hash"]) is not None
    if claimed is None and (seq > prev.seq + 1 or (referenced and not content_ok)):
        missing = (prev.seq + 1, max(prev.seq + 1, seq - 1))
        return _Finding(
            "removed",
            seq,
            rid,
            f"events were removed before event seq {seq} (id {rid}): its predecessor is not in the log "
            f"(missing seq {missing[0]}{'' if missing[0] == missing[1] else f' to {missing[1]}'})",
            missing,
        )
    if claimed is None:
        return _Finding(
            "inserted", seq, rid, f"event seq {seq} (id {rid}) was inserted: it links to no event in the log"
        )
    return _Finding("changed", seq, rid, f"event seq {seq} (id {rid}) does not follow event seq {prev.seq}")


@dataclass
class _Walk:
    """Where a walk stands: the last good point, how many events it checked, what it found."""

    prev: _Point
    by_seq: dict[int, list[Checkpoint]]
    first_seq: int | None = None
    checked: int = 0
    finding: _Finding | None = None


def _slow_walk(session: Session, rows: Iterator[Mapping[str, Any]], walk: _Walk) -> None:
    """Recompute each row's hash in Python and classify the first failure (archives, suspects, the tail)."""
    while walk.finding is None:
        prev = walk.prev
        try:
            row = next(rows, None)
        except ChainBrokenError:
            raise
        except _UNDECODABLE:  # the database holds a value its column type cannot read back
            walk.finding = _undecodable(session, prev)
            return
        if row is None:
            return
        if _rehash(row) != row["hash"] or row["prev_hash"] != prev.hash or row["seq"] != prev.seq + 1:
            walk.finding = _classify(session, prev, row)
            return
        for cp in walk.by_seq.get(row["seq"], []):
            if cp.head_hash != row["hash"]:
                walk.finding = _mismatch(cp, row["seq"], row["event_id"], row["hash"])
        walk.first_seq = row["seq"] if walk.first_seq is None else walk.first_seq
        walk.prev = _Point(row["seq"], row["hash"])
        walk.checked += 1


def _archive_walk(batches: Iterator[ArchiveBatch], walk: _Walk) -> Iterator[Mapping[str, Any]] | None:
    """Advance `walk` over archived events at line rate (`archive_walk.walk_batch`); the rows from the first
    event that fails even the exact check on (for `_slow_walk` to classify), None when none did."""
    from exchange.log.archive_walk import rendered_ahead, walk_batch

    ahead = rendered_ahead(batches)
    for item, texts in ahead:
        done = walk_batch(item.batch, walk.prev.seq, walk.prev.hash, walk.by_seq, texts)
        last, stop = done.last, done.bad
        for seq, (i, found) in done.pinned.items():
            wrong = next((cp for cp in walk.by_seq[seq] if cp.head_hash != found), None)
            if wrong is not None:
                walk.finding = _mismatch(wrong, seq, item.batch.column("event_id")[i].as_py(), found)
                last, stop = (seq, found), i + 1
                break
        if last is not None:
            walk.first_seq = item.batch.column("seq")[0].as_py() if walk.first_seq is None else walk.first_seq
            walk.checked += done.good if walk.finding is None else stop or 0
            walk.prev = _Point(*last)
        if walk.finding is not None:
            return None
        if stop is not None:
            return itertools.chain(item.rows()[stop:], (row for rest in ahead.rest() for row in rest.rows()))
    return None


def _mismatch(cp: Checkpoint, seq: int, event_id: str | None, found: str) -> _Finding:
    return _Finding(
        "checkpoint_mismatch",
        seq,
        event_id,
        f"checkpoint {cp.id} signed seq {cp.seq} with hash {cp.head_hash[:12]}…, but the chain "
        f"now has {found[:12]}…: events up to seq {cp.seq} were rewritten and re-hashed",
    )


def _exact_ok(session: Session, seq: int, prev_hash: str) -> bool:
    """The Python hash of one event the fast path doubted: True when it is intact and links to `prev_hash`."""
    try:
        row = session.execute(select(_EVENTS).where(_EVENTS.c.seq == seq)).first()
    except _UNDECODABLE:
        return False
    return row is not None and row.prev_hash == prev_hash and _rehash(row._mapping) == row.hash


def _stored_hash(session: Session, seq: int) -> str | None:
    return session.scalar(select(_EVENTS.c.hash).where(_EVENTS.c.seq == seq))


def _check_pins(session: Session, walk: _Walk, lo: int, hi: int, seen: Mapping[int, str]) -> None:
    """Good checkpoints signed at seqs in lo < seq <= hi must name the hash the fast walk confirmed there
    (`seen`: the hashes the walk reported at those seqs; any it did not are read here)."""
    seqs = sorted(s for s in walk.by_seq if lo < s <= hi)
    for start in range(0, len(seqs), 500):
        part = seqs[start : start + 500]
        unseen = [seq for seq in part if seq not in seen]
        stored = dict(seen)
        if unseen:
            query = select(_EVENTS.c.seq, _EVENTS.c.hash).where(_EVENTS.c.seq.in_(unseen))
            stored.update(dict(session.execute(query).all()))  # type: ignore[arg-type]
        for seq in part:
            for cp in walk.by_seq[seq]:
                if cp.head_hash != stored.get(seq):
                    row = _lookup(session, seq=seq)
                    walk.finding = _mismatch(cp, seq, row["event_id"] if row else None, stored.get(seq) or "")
                    return


def _raw_fetch(session: Session, sql: str, params: tuple[int, int]) -> list[Any]:
    """Rows as the driver's tuples, on the session's own connection and transaction (no SQLAlchemy rows)."""
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _fast_walk(session: Session, walk: _Walk, *, parallel: bool) -> None:
    """Advance `walk.prev` over the database's events with the SQL-rendered hash (see `_walker`)."""
    from exchange.log._walker import copy_walker, span_walker, walk_spans

    until = session.scalar(select(func.max(_EVENTS.c.seq)))
    if until is None or until <= walk.prev.seq:
        return
    bind = session.get_bind()
    dialect = bind.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return
    url = bind.engine.url if isinstance(bind, Connection) else bind.url
    dsn = None
    if parallel and dialect == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    elif parallel and url.database and url.database != ":memory:":
        dsn = url.database
    local = span_walker(lambda sql, params: _raw_fetch(session, sql, params), dialect)
    if dialect == "postgresql":  # the stored values by COPY, rendered in Arrow (`core.chaincopy`)
        local = copy_walker(session.connection().connection.dbapi_connection) or local
    pins = sorted(walk.by_seq)
    for span in walk_spans(after=walk.prev.seq, until=until, local=local, dsn=dsn, dialect=dialect, pins=pins):
        if not span.events:
            continue
        start = walk.prev
        if span.first_seq != start.seq + 1 or span.first_prev != start.hash:
            return  # the slow walk names what is wrong at the span's start
        good_to, good_hash = span.last_seq, span.last_hash
        for seq in span.suspects:
            before = start.hash if seq == span.first_seq else _stored_hash(session, seq - 1)
            if before is None or not _exact_ok(session, seq, before):
                last = session.execute(
                    select(_EVENTS.c.seq, _EVENTS.c.hash)
                    .where(_EVENTS.c.seq < seq)
                    .order_by(_EVENTS.c.seq.desc())
                    .limit(1)
                ).first()  # the last event before the suspect: the fast walk confirmed it
                good_to, good_hash = (
                    (last.seq, last.hash) if last is not None and last.seq > start.seq else (start.seq, start.hash)
                )
                break
        if good_to is None or good_hash is None:
            return
        if good_to > start.seq:
            walk.first_seq = span.first_seq if walk.first_seq is None else walk.first_seq
            walk.checked += good_to - start.seq
            walk.prev = _Point(good_to, good_hash)
        _check_pins(session, walk, start.seq, walk.prev.seq, span.pinned)
        if walk.finding is not None or good_to != span.last_seq:
            return


def verify_chain(
    session: Session,
    *,
    trusted_keys: Mapping[str, str],
    signature_verifier: Callable[..., bool] | None = None,
    from_seq: int | None = None,
    archives: str | Path | None = None,
    start: tuple[int, str] | None = None,
    parallel: bool = False,
) -> ChainReport:
    """Recompute every hash, check every link, the head row and every checkpoint signature.

    `from_seq` starts at that event, trusting its predecessor's stored hash; `start=(seq, hash)` starts
    after `seq`, trusting the given hash (the last verified checkpoint: an incremental check). `archives`
    (the lake root given to `archive`) re-reads archived Parquet files first; without it the walk starts
    at the newest archive's head hash, which the first remaining event must link to. `parallel` walks
    large ranges in worker processes with their own connections (committed events only).
    """
    from exchange.log.archive import iter_archive_batches

    pinned = select(Checkpoint).order_by(Checkpoint.seq, Checkpoint.id)
    if start is not None:  # signatures older than the verified point were checked when it was verified
        pinned = pinned.where(Checkpoint.seq >= start[0])
    checkpoints = list(session.scalars(pinned))
    bad_ids, notes = _check_signatures(checkpoints, trusted_keys, signature_verifier)
    by_seq: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints:
        if cp.id not in bad_ids:
            by_seq.setdefault(cp.seq, []).append(cp)
    records = list(session.scalars(select(ArchiveRecord).order_by(ArchiveRecord.from_seq)))
    head_row = session.get(ChainHead, 1)

    prev = _Point(0, GENESIS_HASH)
    archive_rows: Iterator[ArchiveBatch] | None = None
    archives_checked = 0
    if start is not None:
        prev = _Point(*start)
        if records and start[0] < records[-1].to_seq:  # archived since: archiving verified and pinned them
            prev = _Point(records[-1].to_seq, records[-1].head_hash)
    elif from_seq is not None and from_seq > 1:
        before = _lookup(session, seq=from_seq - 1)
        archived = next((r for r in records if r.to_seq == from_seq - 1), None)
        if before is None and archived is None:
            raise ExchangeLogError(
                f"cannot verify from seq {from_seq}: event {from_seq - 1} is neither in the database nor the "
                "head of an archive; start at 1, after an archive, or at a seq still in the database"
            )
        prev = _Point(from_seq - 1, before["hash"] if before is not None else archived.head_hash)
        notes.append(f"walk started at seq {from_seq}, trusting the stored hash of seq {from_seq - 1}")
    elif records and archives is None:
        prev = _Point(records[-1].to_seq, records[-1].head_hash)
        notes.append(f"{len(records)} archive(s) up to seq {prev.seq} not re-read (pass archives=<lake root>)")
    elif records:
        archive_rows = iter_archive_batches(archives, records)
        archives_checked = len(records)

    walk = _Walk(prev=prev, by_seq=by_seq)
    for cp in by_seq.get(prev.seq, []):
        if cp.head_hash != prev.hash:
            walk.finding = _Finding(
                "checkpoint_mismatch",
                prev.seq,
                None,
                f"checkpoint {cp.id} at seq {prev.seq} disagrees with the archive head hash",
            )
    if archive_rows is not None and walk.finding is None:
        rest = _archive_walk(archive_rows, walk)
        if rest is not None:
            _slow_walk(session, rest, walk)
    if walk.finding is None:
        _fast_walk(session, walk, parallel=parallel)
    if walk.finding is None:
        _slow_walk(session, _db_rows(session, walk.prev.seq), walk)
    finding, prev, checked = walk.finding, walk.prev, walk.checked

    if finding is None:
        finding = _check_end(session, prev, head_row, checkpoints, bad_ids)
    if finding is None and bad_ids:
        finding = _Finding(
            "bad_checkpoint_signature",
            None,
            None,
            f"checkpoint(s) {', '.join(map(str, bad_ids))} fail signature verification with the trusted hub "
            "key(s): they were forged or altered",
        )
    good = [cp for cp in checkpoints if cp.id not in bad_ids and cp.seq <= prev.seq]
    newest = max(good, key=lambda cp: (cp.seq, cp.id), default=None)
    signed_to = newest.seq if newest is not None else (start[0] if start is not None else 0)
    if records and signed_to < records[-1].to_seq:
        signed_to = records[-1].to_seq
    return ChainReport(
        ok=finding is None,
        events_checked=checked,
        checkpoints_checked=len(checkpoints),
        archives_checked=archives_checked,
        first_seq=walk.first_seq,
        last_seq=prev.seq if checked else None,
        head_hash=prev.hash,
        problem=finding.problem if finding else None,
        first_bad_seq=finding.seq if finding else None,
        first_bad_event_id=finding.event_id if finding else None,
        missing_seqs=finding.missing if finding else None,
        bad_checkpoint_ids=tuple(bad_ids),
        detail=finding.detail if finding else "",
        notes=tuple(notes),
        unsigned_tail=max(0, prev.seq - signed_to),
        newest_checkpoint_id=newest.id if newest is not None else None,
        newest_checkpoint_seq=newest.seq if newest is not None else None,
    )


def _check_end(
    session: Session, last: _Point, head: ChainHead | None, checkpoints: list[Checkpoint], bad_ids: list[int]
) -> _Finding | None:
    """The chain must end where the head row and the newest good checkpoint say it does."""
    signed_end = max((cp.seq for cp in checkpoints if cp.id not in bad_ids), default=0)
    recorded_end = head.seq if head is not None else 0
    if last.seq < max(signed_end, recorded_end):
        end = max(signed_end, recorded_end)
        return _Finding(
            "removed",
            last.seq + 1,
            None,
            f"events seq {last.seq + 1} to {end} were removed from the end of the log (the "
            f"{'signed checkpoint' if signed_end >= recorded_end else 'chain head'} records seq {end})",
            (last.seq + 1, end),
        )
    if head is not None and last.seq > head.seq:
        extra = _lookup(session, seq=head.seq + 1)
        return _Finding(
            "inserted",
            head.seq + 1,
            extra["event_id"] if extra else None,
            f"event seq {head.seq + 1} was inserted after the recorded head of the chain (seq {head.seq})",
        )
    if head is not None and last.seq == head.seq and last.hash != head.hash and last.seq > 0:
        row = _lookup(session, seq=last.seq)
        return _Finding(
            "changed",
            last.seq,
            row["event_id"] if row else None,
            f"the newest event (seq {last.seq}) does not match the chain head's hash: it was rewritten",
        )
    return None


_ADVICE = {
    "bad_checkpoint_signature": "Check which key signed them and restore the checkpoint table from backup.",
    "checkpoint_mismatch": "Compare with the latest backup or archive to find the rewritten events.",
    "changed": "Compare that event with the latest backup or archive and review who wrote to the exchange_event table.",
}


def _tail_advice(report: ChainReport) -> str:
    return " (run `govhub log checkpoint` to sign them)" if report.unsigned_tail else ""


def format_report(report: ChainReport) -> str:
    """One paragraph for `govhub log verify` and the monitor."""
    span = f"seq {report.first_seq}–{report.last_seq}" if report.first_seq is not None else "no events"
    archives = f", {report.archives_checked} archive file(s) re-read" if report.archives_checked else ""
    notes = f" Note: {'; '.join(report.notes)}." if report.notes else ""
    if report.ok:
        head = f", head hash {report.head_hash[:16]}…" if report.head_hash else ""
        return (
            f"Exchange log intact: {report.events_checked} event(s) verified ({span}{head}){archives}; "
            f"{report.checkpoints_checked} signed checkpoint(s) valid. Every hash and link recomputed "
            f"and matched. Unsigned tail: {report.unsigned_tail} event(s) after the newest signed checkpoint"
            f"{_tail_advice(report)}.{notes}"
        )
    advice = _ADVICE.get(report.problem or "", _ADVICE["changed"])
    return (
        f"Exchange log TAMPERED ({report.problem}): {report.detail}. {report.events_checked} event(s) before "
        f"it verified ({span}){archives}; {report.checkpoints_checked} checkpoint(s) checked"
        f"{', bad: ' + ', '.join(map(str, report.bad_checkpoint_ids)) if report.bad_checkpoint_ids else ''}. "
        f"{advice}{notes}"
    )
