"""Give the space of archived exchange-log events back to the disk, without needing twice the database free.

SQLite in `auto_vacuum=INCREMENTAL` mode (every hub database created since `core.db` sets it) returns
free pages with `PRAGMA incremental_vacuum(N)` in bounded chunks, each its own short transaction: the WAL
holds one chunk at a time and writers wait at most one chunk. A database made before that (mode NONE)
keeps its free pages (new appends reuse them); a full `VACUUM` rewrites the whole file, a temporary copy
plus as much again in the WAL, so it only runs when asked (`vacuum=True`) and when the disk has room.
PostgreSQL runs `VACUUM (ANALYZE)` on the event table (archived months' partitions are already dropped).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from exchange.log.errors import ExchangeLogError

if TYPE_CHECKING:
    from exchange.log.log import ExchangeLog

__all__ = ["CHUNK_BYTES", "NotEnoughDiskError", "ReclaimReport", "reclaim_space"]

CHUNK_BYTES = 32 * 1024 * 1024
"""Bytes given back per `incremental_vacuum` transaction (pages moved land in the WAL first)."""

_INCREMENTAL = 2


class NotEnoughDiskError(ExchangeLogError):
    """A full VACUUM was asked for but the disk has not the room it needs; nothing was rewritten."""

    def __init__(self, message: str, message_zh: str) -> None:
        self.message_zh = message_zh
        super().__init__(message)


@dataclass(frozen=True)
class ReclaimReport:
    """What `reclaim_space` did: the method run, pages given back, free pages left in the file (reused by new
    appends), the file's size before and after, and the free disk a full VACUUM would need (SQLite)."""

    method: str
    pages_returned: int = 0
    free_pages: int = 0
    page_size: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    vacuum_needs_bytes: int = 0

    @property
    def free_bytes(self) -> int:
        """Bytes held by free pages still inside the file."""
        return self.free_pages * self.page_size

    def describe(self) -> tuple[str, str]:
        """The report for people: (Chinese, English)."""
        size = f"{_mb(self.bytes_before)} → {_mb(self.bytes_after)}"
        if self.method == "incremental_vacuum":
            return (
                f"已归还磁盘空间 {self.pages_returned:,} 页（数据库文件 {size}）。",
                f"{self.pages_returned:,} pages given back to the disk (database file {size}).",
            )
        if self.method == "vacuum":
            return (
                f"已完整 VACUUM（数据库文件 {size}），此后按增量方式回收空间。",
                f"full VACUUM run (database file {size}); the file now gives space back incrementally.",
            )
        if self.method == "auto_vacuum":
            return (f"数据库自动回收空间（数据库文件 {size}）。", f"space given back at commit (database file {size}).")
        if self.method == "none":
            return (
                f"数据库未启用增量回收（auto_vacuum=INCREMENTAL），未执行 VACUUM：文件内有 {self.free_pages:,} 个空闲页"
                f"（{_mb(self.free_bytes)}），新写入的事件会复用。如需缩小文件，完整 VACUUM 约需 "
                f"{_mb(self.vacuum_needs_bytes)} 可用磁盘，请运行 govhub log archive --vacuum。",
                f"the database is not in auto_vacuum=INCREMENTAL mode, so no VACUUM was run: {self.free_pages:,} free "
                f"pages ({_mb(self.free_bytes)}) stay in the file and new events reuse them. A full VACUUM to shrink "
                f"the file needs about {_mb(self.vacuum_needs_bytes)} free disk: run govhub log archive --vacuum.",
            )
        return (f"已执行 {self.method}。", f"{self.method} run.")


def reclaim_space(xlog: ExchangeLog, *, vacuum: bool = False, chunk_bytes: int = CHUNK_BYTES) -> ReclaimReport:
    """Give the archived rows' space back (see the module's docstring); `vacuum` allows a full SQLite VACUUM
    on a database not in incremental mode, refused with `NotEnoughDiskError` when the disk is short."""
    bind = xlog._bind
    engine = bind.get_bind() if hasattr(bind, "get_bind") and not hasattr(bind, "dialect") else bind
    assert isinstance(engine, Engine)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM (ANALYZE) exchange_event").close()
            return ReclaimReport(method="VACUUM (ANALYZE) exchange_event")
        if conn.dialect.name != "sqlite":
            return ReclaimReport(method="nothing")
        return _reclaim_sqlite(conn, vacuum=vacuum, chunk_bytes=chunk_bytes)


def _reclaim_sqlite(conn: Connection, *, vacuum: bool, chunk_bytes: int) -> ReclaimReport:
    path = _file(conn)
    page_size = int(_pragma(conn, "page_size"))
    before = _pragma(conn, "page_count") * page_size
    mode = _pragma(conn, "auto_vacuum")
    returned = 0
    if mode == _INCREMENTAL:
        chunk = max(1, chunk_bytes // page_size)
        raw = conn.connection.driver_connection
        while (free := _pragma(conn, "freelist_count")) > 0:
            # executescript steps the pragma to its end: execute() would free a single page per call
            raw.executescript(f"PRAGMA incremental_vacuum({min(chunk, free)})")  # type: ignore[union-attr]
            step = free - _pragma(conn, "freelist_count")
            if step <= 0:  # nothing moved (never seen): stop rather than spin, the pages stay for new events
                break
            returned += step
        method = "incremental_vacuum"
    elif mode == 1:  # FULL: pages went back at each commit
        method = "auto_vacuum"
    elif vacuum:
        _check_disk(conn, path, page_size)
        conn.exec_driver_sql("PRAGMA auto_vacuum=INCREMENTAL").close()  # VACUUM applies the new mode
        conn.exec_driver_sql("VACUUM").close()
        method = "vacuum"
    else:
        method = "none"
    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").close()
    return ReclaimReport(
        method=method,
        pages_returned=returned,
        free_pages=_pragma(conn, "freelist_count"),
        page_size=page_size,
        bytes_before=before,
        bytes_after=_pragma(conn, "page_count") * page_size,
        vacuum_needs_bytes=_vacuum_needs(conn, page_size),
    )


def _vacuum_needs(conn: Connection, page_size: int) -> int:
    """Free disk a full VACUUM needs: a temporary copy of the used pages plus as much again in the WAL (or the
    rollback journal)."""
    return 2 * (_pragma(conn, "page_count") - _pragma(conn, "freelist_count")) * page_size


def _check_disk(conn: Connection, path: Path | None, page_size: int) -> None:
    needed = _vacuum_needs(conn, page_size)
    free = shutil.disk_usage(path.parent if path else Path.cwd()).free
    if free < needed:
        raise NotEnoughDiskError(
            f"refusing a full VACUUM of {path}: it needs about {_mb(needed)} free disk (a temporary copy of the "
            f"{_mb(needed // 2)} in use plus as much again in the WAL) and {_mb(free)} is free; the free pages "
            "stay in the file and new events reuse them. Free some disk, or archive without --vacuum",
            f"拒绝执行完整 VACUUM：约需 {_mb(needed)} 可用磁盘，当前仅 {_mb(free)} 可用；空闲页保留在文件中，"
            "新写入的事件会复用。请先释放磁盘空间，或不带 --vacuum 归档。",
        )


def _file(conn: Connection) -> Path | None:
    for row in conn.exec_driver_sql("PRAGMA database_list"):
        if row[1] == "main" and row[2]:
            return Path(row[2])
    return None  # in memory


def _pragma(conn: Connection, name: str) -> int:
    return int(conn.exec_driver_sql(f"PRAGMA {name}").scalar_one())


def _mb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"
