"""Move old exchange-log events to Parquet in the lake, keeping the chain verifiable across files."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from sqlalchemy import delete, func, insert, select

from exchange.log._hashing import as_utc, sm3_hex
from exchange.log.errors import ChainBrokenError, ExchangeLogError
from exchange.log.models import ArchiveRecord, Checkpoint, ExchangeEvent

if TYPE_CHECKING:
    from exchange.log.log import ExchangeLog

__all__ = ["ARCHIVE_SCHEMA", "ArchiveInfo", "archive_events", "iter_archive_rows"]

log = logging.getLogger(__name__)

_EVENTS = ExchangeEvent.__table__
_PREFIX = ("exchange_log", "archive")
_TS = pa.timestamp("us", tz="UTC")
_TYPES: dict[str, pa.DataType] = {
    "seq": pa.int64(), "recorded_at": _TS, "started_at": _TS, "finished_at": _TS, "version": pa.int64(),
    "rows": pa.int64(), "bytes": pa.int64(), "duration_ms": pa.float64(),
}  # fmt: skip
ARCHIVE_SCHEMA = pa.schema([pa.field(c.name, _TYPES.get(c.name, pa.string()), nullable=c.nullable)
                            for c in _EVENTS.columns])  # fmt: skip
"""Parquet schema of archive files: the event columns; `details` as canonical JSON text."""


@dataclass(frozen=True)
class ArchiveInfo:
    """What `archive` moved: seq range, file (relative to the lake root, None if nothing was due)."""

    events: int
    from_seq: int | None = None
    to_seq: int | None = None
    path: str | None = None
    head_hash: str | None = None
    file_sm3: str | None = None


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

    def path(self, rel: str) -> str:
        return f"{self.base.rstrip('/')}/{rel}"

    def write_atomically(self, rel: str, table: pa.Table) -> bytes:
        """Write a Parquet file (temp name, then rename) and return its bytes for the SM3 digest."""
        target, tmp = self.path(rel), self.path(rel) + ".tmp"
        self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        with self.fs.open_output_stream(tmp) as out:
            pq.write_table(table, out, compression="zstd")
        self.fs.move(tmp, target)
        return self.read(rel)

    def read(self, rel: str) -> bytes:
        with self.fs.open_input_file(self.path(rel)) as source:
            return source.read()

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.path(rel)).type == pafs.FileType.File


def _to_arrow(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in ARCHIVE_SCHEMA.names}
    for row in rows:
        for name in ARCHIVE_SCHEMA.names:
            value = row[name]
            if name == "details" and value is not None:
                value = json.dumps(value, sort_keys=True, ensure_ascii=False)
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=ARCHIVE_SCHEMA)


def iter_archive_rows(root: object, records: Sequence[ArchiveRecord]) -> Iterator[Mapping[str, Any]]:
    """Events of the archive files in order, as mappings `event_hash` accepts; checks each file's SM3.

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
        data = location.read(record.path)
        altered = sm3_hex(data) != record.file_sm3
        if altered:
            log.warning("archive file %s differs from the SM3 recorded when it was written", record.path)
        try:
            parquet = pq.ParquetFile(pa.BufferReader(data))
            found = [(f.name, f.type) for f in parquet.schema_arrow]
            if found != [(f.name, f.type) for f in ARCHIVE_SCHEMA]:
                raise ValueError(f"its columns are not the archive schema's: {[name for name, _ in found]}")
            for batch in parquet.iter_batches(batch_size=5000):
                for row in batch.to_pylist():
                    if row["details"] is not None:
                        row["details"] = json.loads(row["details"])
                    yield row
        except Exception as e:  # a damaged file fails in many ways (Arrow, thrift, dates out of range, JSON)
            raise ChainBrokenError(
                f"{where} is unreadable ({type(e).__name__}: {str(e).strip().splitlines()[0]}); it was damaged or "
                "altered after it was written: restore it from backup", seq=record.from_seq,
            ) from e  # fmt: skip
        if altered:
            raise ChainBrokenError(
                f"{where} differs from the SM3 recorded when it was written: it was altered or replaced after "
                "archiving; restore it from backup", seq=record.from_seq,
            )  # fmt: skip


def archive_events(xlog: ExchangeLog, lake_root_or_dir: object, *, before: datetime) -> ArchiveInfo:
    """Move the oldest events recorded before `before` to `<root>/exchange_log/archive/<from>-<to>.parquet`.

    Only a contiguous prefix of the chain moves (stops at the first event recorded at or after
    `before`). The chain is verified first and nothing moves if it is broken. The file is written
    (temp file + rename) before the rows are deleted, in one transaction with the archive record, so
    a crash leaves either the old state or a finished archive. With a signer, a checkpoint is signed
    at the archive's last seq so its head hash stays pinned by the hub key.
    """
    location = _Location(lake_root_or_dir)
    report = xlog.verify()
    if not report.ok:
        raise ChainBrokenError(
            f"refusing to archive a broken exchange log ({report.problem}): {report.detail}",
            seq=report.first_bad_seq, event_id=report.first_bad_event_id,
        )  # fmt: skip
    cutoff = as_utc(before)
    with xlog._tx() as tx:
        first = tx.execute(select(func.min(_EVENTS.c.seq))).scalar()
        if first is None:
            return ArchiveInfo(events=0)
        stop = tx.execute(select(func.min(_EVENTS.c.seq)).where(_EVENTS.c.recorded_at >= cutoff)).scalar()
        last = (stop - 1) if stop is not None else tx.execute(select(func.max(_EVENTS.c.seq))).scalar()
        if last < first:
            return ArchiveInfo(events=0)
        rows = [r._mapping for r in tx.execute(
            select(_EVENTS).where(_EVENTS.c.seq.between(first, last)).order_by(_EVENTS.c.seq))]  # fmt: skip
        rel = "/".join((*_PREFIX, f"{first:012d}-{last:012d}.parquet"))
        digest = sm3_hex(location.write_atomically(rel, _to_arrow(rows)))
        head_hash = rows[-1]["hash"]
        tx.execute(insert(ArchiveRecord.__table__).values(
            from_seq=first, to_seq=last, first_prev_hash=rows[0]["prev_hash"], head_hash=head_hash, path=rel,
            file_sm3=digest, events=len(rows), archived_at=datetime.now(cutoff.tzinfo),
        ))  # fmt: skip
        signed = tx.execute(select(Checkpoint.id).where(Checkpoint.seq == last).limit(1)).first()
        if xlog.signer is not None and signed is None:
            xlog._sign(tx, last, head_hash)
        tx.execute(delete(_EVENTS).where(_EVENTS.c.seq.between(first, last)))
    log.info("archived exchange-log events %s-%s (%s) to %s", first, last, len(rows), location.path(rel))
    return ArchiveInfo(events=len(rows), from_seq=first, to_seq=last, path=rel, head_hash=head_hash, file_sm3=digest)
