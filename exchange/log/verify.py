"""Verify the exchange-log chain: name the first event changed, removed, reordered or inserted.

`verify_chain` orchestrates the walks: the signed checkpoints are checked first (`signatures`), then
archived events at line rate (`archive_walk`), the live table by the SQL-rendered hash (`live_walk`), and
whatever those doubt by the exact walk (`exact_walk`), which classifies the first fault; the result is a
`ChainReport` (`report`, re-exported here with `format_report`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.log.errors import ExchangeLogError
from exchange.log.exact_walk import Finding, Point, Walk, check_end, db_rows, lookup, slow_walk
from exchange.log.live_walk import fast_walk
from exchange.log.models import GENESIS_HASH, ArchiveRecord, ChainHead, Checkpoint
from exchange.log.report import ChainReport, Problem, format_report
from exchange.log.signatures import check_signatures, good_by_seq

if TYPE_CHECKING:
    from exchange.log.archive import ArchiveBatch

__all__ = ["ChainReport", "Problem", "format_report", "verify_chain"]


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
    bad_ids, notes = check_signatures(checkpoints, trusted_keys, signature_verifier)
    records = list(session.scalars(select(ArchiveRecord).order_by(ArchiveRecord.from_seq)))
    head_row = session.get(ChainHead, 1)

    prev = Point(0, GENESIS_HASH)
    archive_rows: Iterator[ArchiveBatch] | None = None
    archives_checked = 0
    if start is not None:
        prev = Point(*start)
        if records and start[0] < records[-1].to_seq:  # archived since: archiving verified and pinned them
            prev = Point(records[-1].to_seq, records[-1].head_hash)
    elif from_seq is not None and from_seq > 1:
        before = lookup(session, seq=from_seq - 1)
        archived = next((r for r in records if r.to_seq == from_seq - 1), None)
        if before is not None:
            prev = Point(from_seq - 1, before["hash"])
        elif archived is not None:
            prev = Point(from_seq - 1, archived.head_hash)
        else:
            raise ExchangeLogError(
                f"cannot verify from seq {from_seq}: event {from_seq - 1} is neither in the database nor the "
                "head of an archive; start at 1, after an archive, or at a seq still in the database"
            )
        notes.append(f"walk started at seq {from_seq}, trusting the stored hash of seq {from_seq - 1}")
    elif records and archives is None:
        prev = Point(records[-1].to_seq, records[-1].head_hash)
        notes.append(f"{len(records)} archive(s) up to seq {prev.seq} not re-read (pass archives=<lake root>)")
    elif records:
        archive_rows = iter_archive_batches(archives, records)
        archives_checked = len(records)

    walk = Walk(prev=prev, by_seq=good_by_seq(checkpoints, bad_ids))
    for cp in walk.by_seq.get(prev.seq, []):
        if cp.head_hash != prev.hash:
            walk.finding = Finding(
                "checkpoint_mismatch",
                prev.seq,
                None,
                f"checkpoint {cp.id} at seq {prev.seq} disagrees with the archive head hash",
            )
    if archive_rows is not None and walk.finding is None:
        from exchange.log.archive_walk import walk_archives

        rest = walk_archives(archive_rows, walk)
        if rest is not None:
            slow_walk(session, rest, walk)
    if walk.finding is None:
        fast_walk(session, walk, parallel=parallel)
    if walk.finding is None:
        slow_walk(session, db_rows(session, walk.prev.seq), walk)
    finding, prev, checked = walk.finding, walk.prev, walk.checked

    if finding is None:
        finding = check_end(session, prev, head_row, checkpoints, bad_ids)
    if finding is None and bad_ids:
        finding = Finding(
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
