"""Move old exchange-log events to Parquet in the lake, keeping the chain verifiable across files."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session

from exchange.log._hashing import as_utc, sm3_hex
from exchange.log.errors import ChainBrokenError, ExchangeLogError
from exchange.log.models import ArchiveRecord, Checkpoint, ExchangeEvent
from exchange.log.reclaim import ReclaimReport, reclaim_space

if TYPE_CHECKING:
    from exchange.log.log import ExchangeLog

__all__ = [
    "ARCHIVE_SCHEMA",
    "ArchiveBatch",
    "ArchiveInfo",
    "archive_events",
    "iter_archive_batches",
    "iter_archive_rows",
    "reclaim_space",
]

log = logging.getLogger(__name__)

_EVENTS = ExchangeEvent.__table__
_PREFIX = ("exchange_log", "archive")
_TS = pa.timestamp("us", tz="UTC")
_TYPES: dict[str, pa.DataType] = {
    "seq": pa.int64(),
    "recorded_at": _TS,
    "started_at": _TS,
    "finished_at": _TS,
    "version": pa.int64(),
    "rows": pa.int64(),
    "bytes": pa.int64(),
    "duration_ms": pa.float64(),
}
ARCHIVE_SCHEMA = pa.schema(
    [pa.field(c.name, _TYPES.get(c.name, pa.string()), nullable=c.nullable) for c in _EVENTS.columns]
)
"""Parquet schema of archive files: the event columns; `details` as canonical JSON text."""


@dataclass(frozen=True)
class ArchiveInfo:
    """What `archive` moved: seq range, the newest file (relative to the lake root, None if nothing was
    due), every file written (one per month) and how the space was given back."""

    events: int
    from_seq: int | None = None
    to_seq: int | None = None
    path: str | None = None
    head_hash: str | None = None
    file_sm3: str | None = None
    files: tuple[str, ...] = ()
    reclaim: ReclaimReport | None = None


class _Location:
    """Where archives go: a pyarrow filesystem and the lake root's path in it (a folder or a bucket)."""

    def __init__(self, lake_root_or_dir: object) -> None:
        from lake._fs import filesystem_for

        if isinstance(lake_root_or_dir, str | os.PathLike):
            root, options = os.fspath(lake_root_or_dir).removeprefix("file://"), {}
        else:  # a lake.Lake: its root may be s3://bucket/prefix with the storage options to reach it
            root = str(lake_root_or_dir.root)  # type: ignore[attr-defined]
            options = dict(getattr(lake_root_or_dir, "storage_options", {}) or {})
        if root.startswith("s3://") and not options:
            raise ExchangeLogError(
                f"archiving the exchange log to {root!r} needs the lake's S3 settings: pass the Lake object "
                "(lake.Lake(root, storage_options=...)) instead of its URL"
            )
        self.fs, self.base = filesystem_for(root, options)
        self.root = root
        self.source = lake_root_or_dir

    def path(self, rel: str) -> str:
        return f"{self.base.rstrip('/')}/{rel}"

    def write_atomically(self, rel: str, batches: Iterator[pa.RecordBatch]) -> tuple[int, str]:
        """Stream record batches into a Parquet file (temp name, then rename); (rows, SM3 of the file)."""
        target, tmp = self.path(rel), self.path(rel) + ".tmp"
        self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        rows = 0
        with (
            self.fs.open_output_stream(tmp) as out,
            pq.ParquetWriter(out, ARCHIVE_SCHEMA, compression="zstd") as writer,
        ):
            for batch in batches:
                writer.write_batch(batch)
                rows += batch.num_rows
        self.fs.move(tmp, target)
        return rows, self.digest(rel)

    def digest(self, rel: str) -> str:
        """SM3 of a file, read in 8 MiB chunks (flat memory whatever its size)."""
        digest = hashlib.new("sm3") if "sm3" in hashlib.algorithms_available else None
        if digest is None:
            return sm3_hex(self.read(rel))
        with self.fs.open_input_stream(self.path(rel)) as source:
            while chunk := source.read(8 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def read(self, rel: str) -> bytes:
        with self.fs.open_input_file(self.path(rel)) as source:
            return source.read()

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.path(rel)).type == pafs.FileType.File


class ArchiveBatch(NamedTuple):
    """Archived events read from one file: the file (for errors) and a batch of its rows."""

    where: str
    seq: int
    batch: pa.RecordBatch

    def rows(self) -> list[dict[str, Any]]:
        """The batch's events as mappings; ChainBrokenError naming the file if one cannot be read."""
        from exchange.log.archive_walk import batch_rows

        try:
            return batch_rows(self.batch)
        except Exception as e:  # details that are not JSON: the file was altered
            raise _unreadable(self.where, self.seq, e) from e


def _unreadable(where: str, seq: int, e: Exception) -> ChainBrokenError:
    return ChainBrokenError(
        f"{where} is unreadable ({type(e).__name__}: {str(e).strip().splitlines()[0]}); it was damaged or "
        "altered after it was written: restore it from backup",
        seq=seq,
    )


def iter_archive_batches(root: object, records: Sequence[ArchiveRecord]) -> Iterator[ArchiveBatch]:
    """Events of the archive files in order, a batch at a time (one row group held); checks each file's SM3.

    A file whose bytes differ from the SM3 recorded when it was written still yields its events first
    (so the chain walk can name the first changed event), then raises ChainBrokenError if the walk got
    through them: a changed byte that alters no event (header, statistics) is still a changed file.
    An unreadable file raises ChainBrokenError too.
    """
    location = _Location(root)
    for record in records:
        where = f"archive file {location.path(record.path)} (events seq {record.from_seq}-{record.to_seq})"
        if not location.exists(record.path):
            raise ChainBrokenError(
                f"{where} is missing; restore it from backup or verify without archives", seq=record.from_seq
            )
        try:
            altered = location.digest(record.path) != record.file_sm3
        except OSError as e:
            raise ChainBrokenError(f"{where} cannot be read ({e}); restore it from backup", seq=record.from_seq) from e
        if altered:
            log.warning("archive file %s differs from the SM3 recorded when it was written", record.path)
        try:
            parquet = pq.ParquetFile(location.fs.open_input_file(location.path(record.path)))
            found = [(f.name, f.type) for f in parquet.schema_arrow]
            if found != [(f.name, f.type) for f in ARCHIVE_SCHEMA]:
                raise ValueError(f"its columns are not the archive schema's: {[name for name, _ in found]}")
            batches = _file_batches(parquet)
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                yield ArchiveBatch(where, record.from_seq, batch)
        except ChainBrokenError:
            raise
        except Exception as e:  # a damaged file fails in many ways (Arrow, thrift, dates out of range)
            raise _unreadable(where, record.from_seq, e) from e
        if altered:
            raise ChainBrokenError(
                f"{where} differs from the SM3 recorded when it was written: it was altered or replaced after "
                "archiving; restore it from backup",
                seq=record.from_seq,
            )


def iter_archive_rows(root: object, records: Sequence[ArchiveRecord]) -> Iterator[Mapping[str, Any]]:
    """Events of the archive files in order, as mappings `event_hash` accepts (`iter_archive_batches`)."""
    for item in iter_archive_batches(root, records):
        yield from item.rows()


def _file_batches(parquet: pq.ParquetFile) -> Iterator[pa.RecordBatch]:
    """A file's rows in batches of 5,000, one row group at a time, with flat memory whatever the file's size.

    One reader over the whole file keeps every row group's decoded buffers until it is done (a 2.5 M-event
    month held 350 MB); a reader per row group lets each group's buffers go before the next is read.
    """
    pool = pa.default_memory_pool()
    for group in range(parquet.num_row_groups):
        yield from parquet.iter_batches(batch_size=5000, row_groups=[group])
        pool.release_unused()  # the allocator otherwise keeps the freed buffers for itself


def _month_end(moment: datetime) -> datetime:
    """The first instant (UTC) of the month after `moment`'s."""
    moment = as_utc(moment)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def archive_events(
    xlog: ExchangeLog, lake_root_or_dir: object, *, before: datetime, vacuum: bool = False
) -> ArchiveInfo:
    """Move the events recorded before `before` to Parquet in the lake, one file per calendar month (UTC).

    Files: `<root>/exchange_log/archive/<YYYY-MM>/<from>-<to>.parquet`. Only a contiguous prefix of the
    chain moves: a month ends at the first event recorded in the next month (or at `before`). First the
    chain is checked from the last verified signed checkpoint (`check_incremental`); nothing moves if it
    is broken. Each month is streamed in batches to a temp file and renamed, its SM3 recorded, a
    checkpoint signed at its last seq (with a signer), the file re-read and its chain re-hashed, then its
    events removed (on partitioned PostgreSQL its month partition detached and dropped, otherwise its rows
    deleted), all in one transaction per month: a crash leaves whole months, and a re-run writes the same
    file again. Then the space is given back (`exchange.log.reclaim`): `vacuum` allows a full SQLite VACUUM
    on a database not in incremental mode (run even when no month is due). Returns the totals.
    """
    from exchange.log.checks import check_incremental

    location = _Location(lake_root_or_dir)
    report = check_incremental(xlog)
    if not report.ok:
        raise ChainBrokenError(
            f"refusing to archive a broken exchange log ({report.problem}): {report.detail}",
            seq=report.first_bad_seq,
            event_id=report.first_bad_event_id,
        )
    cutoff = as_utc(before)
    _prepare_partitions(xlog)
    months: list[ArchiveInfo] = []
    while (month := _archive_month(xlog, location, cutoff)) is not None:
        months.append(month)
    if not months:
        return ArchiveInfo(events=0, reclaim=reclaim_space(xlog, vacuum=True) if vacuum else None)
    reclaimed = reclaim_space(xlog, vacuum=vacuum)
    last = months[-1]
    return ArchiveInfo(
        events=sum(m.events for m in months),
        from_seq=months[0].from_seq,
        to_seq=last.to_seq,
        path=last.path,
        head_hash=last.head_hash,
        file_sm3=last.file_sm3,
        files=tuple(m.path for m in months if m.path),
        reclaim=reclaimed,
    )


def _prepare_partitions(xlog: ExchangeLog) -> None:
    """On partitioned PostgreSQL, give the months held by the default partition their own (droppable) partition."""
    from exchange.log.partitions import ensure_partitions

    with xlog._tx() as tx:
        ensure_partitions(_connection(tx))


def _archive_month(xlog: ExchangeLog, location: _Location, cutoff: datetime) -> ArchiveInfo | None:
    """Archive the oldest month still in the database (up to `cutoff`); None when nothing is due."""
    from exchange.log.models import LogMark

    with xlog._tx() as tx:
        head = tx.execute(
            select(_EVENTS.c.seq, _EVENTS.c.recorded_at, _EVENTS.c.prev_hash).order_by(_EVENTS.c.seq).limit(1)
        ).first()
        if head is None or as_utc(head.recorded_at) >= cutoff:
            return None
        first = head.seq
        end = min(_month_end(head.recorded_at), cutoff)
        stop = tx.execute(
            select(_EVENTS.c.seq)
            .where(_EVENTS.c.recorded_at >= end)
            .order_by(_EVENTS.c.recorded_at, _EVENTS.c.seq)
            .limit(1)
        ).scalar()
        last = (stop - 1) if stop is not None else tx.execute(select(func.max(_EVENTS.c.seq))).scalar()
        if last < first:
            return None
        month = f"{as_utc(head.recorded_at):%Y-%m}"
        rel = "/".join((*_PREFIX, month, f"{first:012d}-{last:012d}.parquet"))
        from exchange.log.archive_write import month_batches

        events, digest = location.write_atomically(rel, month_batches(tx, first, last))
        head_hash = tx.execute(select(_EVENTS.c.hash).where(_EVENTS.c.seq == last)).scalar_one()
        _verify_file(location, rel, digest, first=first, last=last, prev_hash=head.prev_hash, head_hash=head_hash)
        tx.execute(
            insert(ArchiveRecord.__table__).values(
                from_seq=first,
                to_seq=last,
                first_prev_hash=head.prev_hash,
                head_hash=head_hash,
                path=rel,
                file_sm3=digest,
                events=events,
                archived_at=datetime.now(cutoff.tzinfo),
            )
        )
        signed = tx.execute(select(Checkpoint.id).where(Checkpoint.seq == last).limit(1)).scalar()
        if xlog.signer is not None and signed is None:
            signed = xlog._sign(tx, last, head_hash).id
        marks = LogMark.__table__
        tx.execute(
            update(marks)
            .where(marks.c.name == "verified", marks.c.seq < last)
            .values(seq=last, hash=head_hash, checkpoint_id=signed)
        )
        dropped = _remove_events(tx, first, last, end)
    log.info(
        "archived month %s: %s partition(s) dropped (%s)", month, len(dropped), ", ".join(dropped) or "rows deleted"
    )
    log.info("archived exchange-log events %s-%s (%s) to %s", first, last, events, location.path(rel))
    return ArchiveInfo(events=events, from_seq=first, to_seq=last, path=rel, head_hash=head_hash, file_sm3=digest)


def _verify_file(
    location: _Location, rel: str, digest: str, *, first: int, last: int, prev_hash: str, head_hash: str
) -> None:
    """Re-read the written file and re-hash its chain before any row leaves the database (at line rate,
    `archive_walk.walk_batch`: rows the kernels refuse are hashed exactly)."""
    from exchange.log.archive_walk import rendered_ahead, walk_batch

    record = ArchiveRecord(path=rel, from_seq=first, to_seq=last, file_sm3=digest)
    expected, link = first, prev_hash
    for item, texts in rendered_ahead(iter_archive_batches(location.source, [record])):
        done = walk_batch(item.batch, expected - 1, link, (), texts)
        if done.bad is not None:
            seq = item.batch.column("seq")[done.bad].as_py()
            raise ChainBrokenError(
                f"the archive file {location.path(rel)} does not read back as written at seq {seq}; "
                "nothing was removed from the database: check the lake's storage and archive again",
                seq=seq,
            )
        if done.last is not None:
            expected, link = done.last[0] + 1, done.last[1]
    if expected != last + 1 or link != head_hash:
        raise ChainBrokenError(
            f"the archive file {location.path(rel)} holds seq {first} to {expected - 1}, not to {last}; nothing was "
            "removed from the database: check the lake's storage and archive again",
            seq=expected,
        )


def _connection(tx: Connection | Session) -> Connection:
    return tx.connection() if isinstance(tx, Session) else tx


def _remove_events(tx: Connection | Session, first: int, last: int, end: datetime) -> list[str]:
    """Take archived events first..last out of the database: on a partitioned PostgreSQL table detach and drop
    the month partitions they fill, delete any rest (events recorded out of order, the default partition)."""
    from exchange.log.partitions import droppable_partitions, is_partitioned

    conn = _connection(tx)
    dropped: list[str] = []
    if is_partitioned(conn):
        dropped = droppable_partitions(conn, last_seq=last, before=end)
        for name in dropped:
            conn.exec_driver_sql(f"ALTER TABLE exchange_event DETACH PARTITION {name}")
            conn.exec_driver_sql(f"DROP TABLE {name}")
    conn.execute(delete(_EVENTS).where(_EVENTS.c.seq.between(first, last)))
    return dropped
