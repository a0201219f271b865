"""Walk the exchange-log chain: name the first event changed, removed, reordered or inserted."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.crypto import SealError
from exchange.log._hashing import checkpoint_payload, event_hash
from exchange.log.errors import ChainBrokenError, ExchangeLogError
from exchange.log.models import GENESIS_HASH, ArchiveRecord, ChainHead, Checkpoint, ExchangeEvent

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
                "changed", head.seq, head.event_id,
                f"event seq {head.seq} (id {head.event_id}) was changed after it was recorded: a stored value "
                f"cannot be read back as its column's type ({type(e).__name__}: {e})",
            )  # fmt: skip
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
            "inserted", first["seq"], first["event_id"],
            f"event seq {first['seq']} (id {first['event_id']}) was inserted: event seq {seq} links back to "
            f"seq {claimed['seq']}, so the events from seq {claimed['seq'] + 1} to {prev.seq} are not part "
            "of the chain",
        )  # fmt: skip
    if claimed is not None and claimed["seq"] > seq:
        return _Finding(
            "reordered", seq, rid,
            f"event seq {seq} (id {rid}) was reordered: it links to event id {claimed['event_id']}, now at "
            f"seq {claimed['seq']}, after it; the two events' positions were swapped or moved",
        )  # fmt: skip
    referenced = _lookup(session, prev_hash=row["hash"]) is not None
    if claimed is None and (seq > prev.seq + 1 or (referenced and not content_ok)):
        missing = (prev.seq + 1, max(prev.seq + 1, seq - 1))
        return _Finding(
            "removed", seq, rid,
            f"events were removed before event seq {seq} (id {rid}): its predecessor is not in the log "
            f"(missing seq {missing[0]}{'' if missing[0] == missing[1] else f' to {missing[1]}'})",
            missing,
        )  # fmt: skip
    if claimed is None:
        return _Finding(
            "inserted", seq, rid, f"event seq {seq} (id {rid}) was inserted: it links to no event in the log"
        )
    return _Finding("changed", seq, rid, f"event seq {seq} (id {rid}) does not follow event seq {prev.seq}")


def verify_chain(
    session: Session,
    *,
    trusted_keys: Mapping[str, str],
    signature_verifier: Callable[..., bool] | None = None,
    from_seq: int | None = None,
    archives: str | Path | None = None,
) -> ChainReport:
    """Recompute every hash, check every link, the head row and every checkpoint signature.

    `from_seq` starts at that event, trusting its predecessor's stored hash. `archives` (the lake
    root given to `archive`) re-reads archived Parquet files first; without it the walk starts at the
    newest archive's head hash, which the first remaining event must link to.
    """
    from exchange.log.archive import iter_archive_rows

    checkpoints = list(session.scalars(select(Checkpoint).order_by(Checkpoint.seq, Checkpoint.id)))
    bad_ids, notes = _check_signatures(checkpoints, trusted_keys, signature_verifier)
    by_seq: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints:
        if cp.id not in bad_ids:
            by_seq.setdefault(cp.seq, []).append(cp)
    records = list(session.scalars(select(ArchiveRecord).order_by(ArchiveRecord.from_seq)))
    head_row = session.get(ChainHead, 1)

    prev = _Point(0, GENESIS_HASH)
    sources: list[Iterator[Mapping[str, Any]]] = []
    archives_checked = 0
    if from_seq is not None and from_seq > 1:
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
        sources.append(iter_archive_rows(archives, records))
        archives_checked = len(records)
    sources.append(_db_rows(session, prev.seq))

    finding: _Finding | None = None
    first_seq: int | None = None
    checked = 0
    for cp in by_seq.get(prev.seq, []):
        if cp.head_hash != prev.hash:
            finding = _Finding("checkpoint_mismatch", prev.seq, None, f"checkpoint {cp.id} at seq {prev.seq} "
                               "disagrees with the archive head hash")  # fmt: skip
    rows = (r for source in sources for r in source)
    while finding is None:
        try:
            row = next(rows, None)
        except ChainBrokenError:
            raise
        except _UNDECODABLE:  # the database holds a value its column type cannot read back
            finding = _undecodable(session, prev)
            break
        if row is None:
            break
        if _rehash(row) != row["hash"] or row["prev_hash"] != prev.hash or row["seq"] != prev.seq + 1:
            finding = _classify(session, prev, row)
            break
        for cp in by_seq.get(row["seq"], []):
            if cp.head_hash != row["hash"]:
                finding = _Finding(
                    "checkpoint_mismatch", row["seq"], row["event_id"],
                    f"checkpoint {cp.id} signed seq {cp.seq} with hash {cp.head_hash[:12]}…, but the chain "
                    f"now has {row['hash'][:12]}…: events up to seq {cp.seq} were rewritten and re-hashed",
                )  # fmt: skip
        first_seq = row["seq"] if first_seq is None else first_seq
        prev = _Point(row["seq"], row["hash"])
        checked += 1

    if finding is None:
        finding = _check_end(session, prev, head_row, checkpoints, bad_ids)
    if finding is None and bad_ids:
        finding = _Finding(
            "bad_checkpoint_signature", None, None,
            f"checkpoint(s) {', '.join(map(str, bad_ids))} fail signature verification with the trusted hub "
            "key(s): they were forged or altered",
        )  # fmt: skip
    return ChainReport(
        ok=finding is None,
        events_checked=checked,
        checkpoints_checked=len(checkpoints),
        archives_checked=archives_checked,
        first_seq=first_seq,
        last_seq=prev.seq if checked else None,
        head_hash=prev.hash,
        problem=finding.problem if finding else None,
        first_bad_seq=finding.seq if finding else None,
        first_bad_event_id=finding.event_id if finding else None,
        missing_seqs=finding.missing if finding else None,
        bad_checkpoint_ids=tuple(bad_ids),
        detail=finding.detail if finding else "",
        notes=tuple(notes),
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
            "removed", last.seq + 1, None,
            f"events seq {last.seq + 1} to {end} were removed from the end of the log (the "
            f"{'signed checkpoint' if signed_end >= recorded_end else 'chain head'} records seq {end})",
            (last.seq + 1, end),
        )  # fmt: skip
    if head is not None and last.seq > head.seq:
        extra = _lookup(session, seq=head.seq + 1)
        return _Finding(
            "inserted", head.seq + 1, extra["event_id"] if extra else None,
            f"event seq {head.seq + 1} was inserted after the recorded head of the chain (seq {head.seq})",
        )  # fmt: skip
    if head is not None and last.seq == head.seq and last.hash != head.hash and last.seq > 0:
        row = _lookup(session, seq=last.seq)
        return _Finding(
            "changed", last.seq, row["event_id"] if row else None,
            f"the newest event (seq {last.seq}) does not match the chain head's hash: it was rewritten",
        )  # fmt: skip
    return None


_ADVICE = {
    "bad_checkpoint_signature": "Check which key signed them and restore the checkpoint table from backup.",
    "checkpoint_mismatch": "Compare with the latest backup or archive to find the rewritten events.",
    "changed": "Compare that event with the latest backup or archive and review who wrote to the exchange_event table.",
}


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
            f"and matched.{notes}"
        )
    advice = _ADVICE.get(report.problem or "", _ADVICE["changed"])
    return (
        f"Exchange log TAMPERED ({report.problem}): {report.detail}. {report.events_checked} event(s) before "
        f"it verified ({span}){archives}; {report.checkpoints_checked} checkpoint(s) checked"
        f"{', bad: ' + ', '.join(map(str, report.bad_checkpoint_ids)) if report.bad_checkpoint_ids else ''}. "
        f"{advice}{notes}"
    )
