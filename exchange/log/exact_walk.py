"""The exact chain walk: each event re-hashed in Python, and the first that fails classified and named.

The fast walks (`live_walk` over the database, `archive_walk` over archive files) confirm the intact
runs; every walk stands in a `Walk`, and where one stops, this module says what is wrong: an event
changed, removed, reordered or inserted, or a signed checkpoint the chain no longer matches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.crypto import SealError
from exchange.log._hashing import event_hash
from exchange.log.errors import ChainBrokenError
from exchange.log.models import ChainHead, Checkpoint, ExchangeEvent
from exchange.log.report import Problem

__all__ = [
    "EVENTS",
    "UNDECODABLE",
    "Finding",
    "Point",
    "Walk",
    "check_end",
    "db_rows",
    "event_id_at",
    "lookup",
    "mismatch",
    "rehash",
    "slow_walk",
]

log = logging.getLogger(__name__)

EVENTS = ExchangeEvent.__table__
_CHUNK = 5000

UNDECODABLE = (ValueError, TypeError, OverflowError)
"""What reading a row raises when the database holds a value its column type cannot read back."""


@dataclass
class Point:
    """An event the walk confirmed: its seq and hash, which the next event must link to."""

    seq: int
    hash: str


@dataclass
class Finding:
    """The first fault a walk met: what, at which event, in words, and (for "removed") the missing seqs."""

    problem: Problem
    seq: int | None
    event_id: str | None
    detail: str
    missing: tuple[int, int] | None = None


@dataclass
class Walk:
    """Where a walk stands: the last good point, how many events it checked, what it found."""

    prev: Point
    by_seq: dict[int, list[Checkpoint]]
    first_seq: int | None = None
    checked: int = 0
    finding: Finding | None = None

    def advance(self, first_seq: int, count: int, to: Point) -> None:
        """`count` more events confirmed, from `first_seq` up to `to`."""
        self.first_seq = first_seq if self.first_seq is None else self.first_seq
        self.checked += count
        self.prev = to


def db_rows(session: Session, after: int) -> Iterator[Mapping[str, Any]]:
    """Events with seq > after, in seq order, read in chunks (keyset paging, constant memory)."""
    while True:
        chunk = session.execute(select(EVENTS).where(EVENTS.c.seq > after).order_by(EVENTS.c.seq).limit(_CHUNK))
        rows = cast("list[Mapping[str, Any]]", [r._mapping for r in chunk])
        if not rows:
            return
        yield from rows
        after = rows[-1]["seq"]


def lookup(session: Session, **where: Any) -> Mapping[str, Any] | None:
    """The first event (seq, event_id, hash) whose columns equal `where`; None when there is none."""
    stmt = select(EVENTS.c.seq, EVENTS.c.event_id, EVENTS.c.hash)
    for name, value in where.items():
        stmt = stmt.where(EVENTS.c[name] == value)
    row = session.execute(stmt.order_by(EVENTS.c.seq).limit(1)).first()
    return None if row is None else cast("Mapping[str, Any]", row._mapping)


def event_id_at(session: Session, seq: int) -> str | None:
    """The id of the event at `seq`, None when no event is there (for naming it in a finding)."""
    row = lookup(session, seq=seq)
    return row["event_id"] if row else None


def rehash(row: Mapping[str, Any]) -> str | None:
    """The event's hash recomputed; None when a stored value cannot be hashed at all (e.g. bytes written into
    a text column): such a row was changed, and is reported like any other changed row."""
    try:
        return event_hash(row)
    except (SealError, TypeError, ValueError, OverflowError) as e:
        log.warning("event seq %s cannot be hashed: %s", row.get("seq"), e)
        return None


def mismatch(cp: Checkpoint, seq: int, event_id: str | None, found: str) -> Finding:
    """A good checkpoint pinned another hash at `seq` than the chain now has there."""
    return Finding(
        "checkpoint_mismatch",
        seq,
        event_id,
        f"checkpoint {cp.id} signed seq {cp.seq} with hash {cp.head_hash[:12]}…, but the chain "
        f"now has {found[:12]}…: events up to seq {cp.seq} were rewritten and re-hashed",
    )


def _undecodable(session: Session, prev: Point) -> Finding:
    """Name the first event after `prev` that cannot be read back (SQLite keeps any value in any column:
    text in a time, broken JSON in details); such an event was changed outside the hub."""
    after = prev.seq
    while True:
        head = session.execute(
            select(EVENTS.c.seq, EVENTS.c.event_id).where(EVENTS.c.seq > after).order_by(EVENTS.c.seq).limit(1)
        ).first()
        if head is None:
            return Finding("changed", None, None, f"an event after seq {prev.seq} cannot be read back")
        try:
            session.execute(select(EVENTS).where(EVENTS.c.seq == head.seq)).all()
        except UNDECODABLE as e:
            return Finding(
                "changed",
                head.seq,
                head.event_id,
                f"event seq {head.seq} (id {head.event_id}) was changed after it was recorded: a stored value "
                f"cannot be read back as its column's type ({type(e).__name__}: {e})",
            )
        after = head.seq


def _classify(session: Session, prev: Point, row: Mapping[str, Any]) -> Finding:
    """Why `row` does not follow `prev` (tamper path only, so it may query freely)."""
    seq, rid, content_ok = row["seq"], row["event_id"], rehash(row) == row["hash"]
    if row["prev_hash"] == prev.hash or (not content_ok and rehash({**row, "prev_hash": prev.hash}) == row["hash"]):
        what = (
            "its stored hash no longer matches its fields"
            if row["prev_hash"] == prev.hash
            else "its prev_hash was edited"
        )
        return Finding("changed", seq, rid, f"event seq {seq} (id {rid}) was changed after it was recorded: {what}")
    claimed = lookup(session, hash=row["prev_hash"])
    if claimed is not None and claimed["seq"] < prev.seq:
        first = lookup(session, seq=claimed["seq"] + 1) or row
        return Finding(
            "inserted",
            first["seq"],
            first["event_id"],
            f"event seq {first['seq']} (id {first['event_id']}) was inserted: event seq {seq} links back to "
            f"seq {claimed['seq']}, so the events from seq {claimed['seq'] + 1} to {prev.seq} are not part "
            "of the chain",
        )
    if claimed is not None and claimed["seq"] > seq:
        return Finding(
            "reordered",
            seq,
            rid,
            f"event seq {seq} (id {rid}) was reordered: it links to event id {claimed['event_id']}, now at "
            f"seq {claimed['seq']}, after it; the two events' positions were swapped or moved",
        )
    referenced = lookup(session, prev_hash=row["hash"]) is not None
    if claimed is None and (seq > prev.seq + 1 or (referenced and not content_ok)):
        missing = (prev.seq + 1, max(prev.seq + 1, seq - 1))
        return Finding(
            "removed",
            seq,
            rid,
            f"events were removed before event seq {seq} (id {rid}): its predecessor is not in the log "
            f"(missing seq {missing[0]}{'' if missing[0] == missing[1] else f' to {missing[1]}'})",
            missing,
        )
    if claimed is None:
        return Finding(
            "inserted", seq, rid, f"event seq {seq} (id {rid}) was inserted: it links to no event in the log"
        )
    return Finding("changed", seq, rid, f"event seq {seq} (id {rid}) does not follow event seq {prev.seq}")


def slow_walk(session: Session, rows: Iterator[Mapping[str, Any]], walk: Walk) -> None:
    """Recompute each row's hash in Python and classify the first failure (archives, suspects, the tail)."""
    while walk.finding is None:
        prev = walk.prev
        try:
            row = next(rows, None)
        except ChainBrokenError:
            raise
        except UNDECODABLE:  # the database holds a value its column type cannot read back
            walk.finding = _undecodable(session, prev)
            return
        if row is None:
            return
        if rehash(row) != row["hash"] or row["prev_hash"] != prev.hash or row["seq"] != prev.seq + 1:
            walk.finding = _classify(session, prev, row)
            return
        for cp in walk.by_seq.get(row["seq"], []):
            if cp.head_hash != row["hash"]:
                walk.finding = mismatch(cp, row["seq"], row["event_id"], row["hash"])
        walk.advance(row["seq"], 1, Point(row["seq"], row["hash"]))


def check_end(
    session: Session, last: Point, head: ChainHead | None, checkpoints: list[Checkpoint], bad_ids: list[int]
) -> Finding | None:
    """The chain must end where the head row and the newest good checkpoint say it does."""
    signed_end = max((cp.seq for cp in checkpoints if cp.id not in bad_ids), default=0)
    recorded_end = head.seq if head is not None else 0
    if last.seq < max(signed_end, recorded_end):
        end = max(signed_end, recorded_end)
        return Finding(
            "removed",
            last.seq + 1,
            None,
            f"events seq {last.seq + 1} to {end} were removed from the end of the log (the "
            f"{'signed checkpoint' if signed_end >= recorded_end else 'chain head'} records seq {end})",
            (last.seq + 1, end),
        )
    if head is not None and last.seq > head.seq:
        return Finding(
            "inserted",
            head.seq + 1,
            event_id_at(session, head.seq + 1),
            f"event seq {head.seq + 1} was inserted after the recorded head of the chain (seq {head.seq})",
        )
    if head is not None and last.seq == head.seq and last.hash != head.hash and last.seq > 0:
        return Finding(
            "changed",
            last.seq,
            event_id_at(session, last.seq),
            f"the newest event (seq {last.seq}) does not match the chain head's hash: it was rewritten",
        )
    return None
