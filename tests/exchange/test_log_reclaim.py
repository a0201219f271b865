"""After an archive the space goes back in small steps on incremental SQLite, and never by a surprise VACUUM."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from log_support import event_kwargs

from core.db import Base, engine_for
from exchange.log import ExchangeLog
from exchange.log.reclaim import NotEnoughDiskError, reclaim_space

_PADDING = "交换记录" * 200  # ~2.4 KB of details per event, so a few hundred events fill many pages


def _pragma(path: Path, name: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


def _fill(xlog: ExchangeLog, old: int = 600, new: int = 50) -> datetime:
    """`old` padded events, a cut-off time, then `new` more."""
    xlog.append_many([event_kwargs(i, details={"n": i, "pad": _PADDING}) for i in range(old)])
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    xlog.append_many([event_kwargs(i) for i in range(old, old + new)])
    return cutoff


def _said(output: str, *needles: str) -> bool:
    """Every needle is in the output, whatever the console's line wrapping did to spaces."""
    flat = "".join(output.split())
    return all("".join(n.split()) in flat for n in needles)


def _statements(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.strip().upper())

    return seen


@pytest.fixture
def hub_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A new hub database made the way govhub makes it (core.db.engine_for), tables created."""
    engine = engine_for(f"sqlite:///{tmp_path / 'hub-new.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_a_new_hub_database_is_in_incremental_mode_after_the_migrations(tmp_path: Path) -> None:
    from govhub.db import migrate

    path = tmp_path / "migrated.db"
    migrate(f"sqlite:///{path}")
    assert _pragma(path, "auto_vacuum") == 2  # INCREMENTAL
    assert _pragma(path, "page_count") > 10  # the migrations created their tables in it
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with engine_for("sqlite:///:memory:").connect() as conn:  # an in-memory store still works
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2


def test_an_existing_database_keeps_its_mode_and_connecting_takes_no_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        engine = engine_for(f"sqlite:///{path}")
        started = time.perf_counter()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 0
        assert time.perf_counter() - started < 5  # no wait for the writer (the busy timeout is 30 s)
        engine.dispose()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_archive_on_an_incremental_database_shrinks_the_file_without_a_full_vacuum(
    hub_engine: sa.Engine, tmp_path: Path
) -> None:
    path = Path(hub_engine.url.database or "")
    xlog = ExchangeLog(hub_engine)
    cutoff = _fill(xlog)
    pages_before = _pragma(path, "page_count")
    seen = _statements(hub_engine)

    info = xlog.archive(tmp_path / "lake", before=cutoff)

    assert info.events == 600 and xlog.count() == 50
    report = info.reclaim
    assert report is not None and report.method == "incremental_vacuum"
    assert "VACUUM" not in seen
    assert report.pages_returned > pages_before // 2  # the padded events held most of the file
    assert report.free_pages == 0 == _pragma(path, "freelist_count")
    assert _pragma(path, "page_count") == pages_before - report.pages_returned
    assert report.bytes_after < report.bytes_before
    assert path.with_name(path.name + "-wal").stat().st_size == 0  # checkpointed and truncated
    assert "归还" in report.describe()[0]
    assert xlog.verify(archives=tmp_path / "lake").ok


def test_incremental_reclaim_goes_in_bounded_chunks(hub_engine: sa.Engine) -> None:
    path = Path(hub_engine.url.database or "")
    xlog = ExchangeLog(hub_engine)
    _fill(xlog, old=300, new=0)
    with hub_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM exchange_event")
    free = _pragma(path, "freelist_count")
    page_size = _pragma(path, "page_size")
    chunks: list[str] = []
    hub_engine.dispose()  # new connections trace what SQLite runs, the executescript chunks included

    @sa.event.listens_for(hub_engine, "connect")
    def _trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(lambda s: chunks.append(s) if "incremental_vacuum" in s else None)

    report = reclaim_space(xlog, chunk_bytes=10 * page_size)
    assert report.pages_returned == free and _pragma(path, "freelist_count") == 0
    assert len(chunks) == -(-free // 10)  # ceil: 10 pages a transaction
    assert all(c == "PRAGMA incremental_vacuum(10)" for c in chunks[:-1])


def test_an_old_database_is_not_vacuumed_unless_asked_and_the_report_says_so(engine: sa.Engine, tmp_path: Path) -> None:
    path = Path(engine.url.database or "")
    assert _pragma(path, "auto_vacuum") == 0  # made before incremental mode
    xlog = ExchangeLog(engine)
    cutoff = _fill(xlog)
    pages_before = _pragma(path, "page_count")
    seen = _statements(engine)

    report = xlog.archive(tmp_path / "lake", before=cutoff).reclaim

    assert report is not None and report.method == "none" and "VACUUM" not in seen
    assert _pragma(path, "page_count") == pages_before  # nothing rewritten
    assert report.free_pages == _pragma(path, "freelist_count") > pages_before // 2
    used = (pages_before - report.free_pages) * report.page_size
    assert report.vacuum_needs_bytes == 2 * used
    zh, en = report.describe()
    assert "--vacuum" in zh and "--vacuum" in en and "new events reuse them" in en
    assert f"{report.free_pages:,}" in zh

    asked = xlog.archive(tmp_path / "lake", before=cutoff, vacuum=True)  # nothing due, the VACUUM still runs
    assert asked.events == 0 and asked.reclaim is not None and asked.reclaim.method == "vacuum"
    assert "VACUUM" in seen
    assert _pragma(path, "page_count") < pages_before // 2
    assert _pragma(path, "auto_vacuum") == 2  # later archives give space back in steps
    assert xlog.verify(archives=tmp_path / "lake").ok


def test_vacuum_is_refused_when_the_disk_is_short(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(engine.url.database or "")
    xlog = ExchangeLog(engine)
    cutoff = _fill(xlog)
    pages_before = _pragma(path, "page_count")
    seen = _statements(engine)
    asked: list[Path] = []

    def _short(where: Path) -> Any:
        asked.append(Path(where))
        return shutil._ntuple_diskusage(10**12, 10**12 - 4096, 4096)  # type: ignore[attr-defined]

    monkeypatch.setattr("exchange.log.reclaim.shutil.disk_usage", _short)
    with pytest.raises(NotEnoughDiskError, match="refusing a full VACUUM") as refused:
        xlog.archive(tmp_path / "lake", before=cutoff, vacuum=True)
    assert "拒绝执行完整 VACUUM" in refused.value.message_zh
    assert asked == [path.parent]
    assert "VACUUM" not in seen and _pragma(path, "page_count") == pages_before
    assert xlog.count() == 50  # the months were archived before the refusal and stay archived
    assert xlog.verify(archives=tmp_path / "lake").ok


def test_the_cli_reports_an_old_database_and_vacuums_only_when_asked_and_the_disk_has_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from core.time import BEIJING
    from govhub.db import migrate
    from govhub.exchange_log import hub_log
    from govhub.settings import reset_settings

    home = tmp_path / "hub"
    home.mkdir()
    db = home / "govhub.db"
    with sqlite3.connect(db) as conn:  # a store made before incremental mode: it already has a page
        conn.execute("CREATE TABLE made_before (x)")
        conn.execute("DROP TABLE made_before")
    monkeypatch.setenv("GOVHUB_HOME", str(home))
    monkeypatch.delenv("GOVHUB_DB_URL", raising=False)
    reset_settings()
    migrate()
    assert _pragma(db, "auto_vacuum") == 0
    hub_log().append_many([event_kwargs(i, details={"n": i, "pad": _PADDING}) for i in range(300)])
    day = f"{datetime.now(BEIJING) + timedelta(days=1):%Y-%m-%d}"
    cli = CliRunner()
    pages = _pragma(db, "page_count")

    first = cli.invoke(app, ["log", "archive", "--before", day])
    assert first.exit_code == 0, first.output
    assert _said(first.output, "已归档 300 个事件", "未执行 VACUUM", "govhub log archive --vacuum", "new events reuse")
    assert _pragma(db, "page_count") == pages

    with monkeypatch.context() as short:
        short.setattr(
            "exchange.log.reclaim.shutil.disk_usage",
            lambda _where: shutil._ntuple_diskusage(10**12, 10**12 - 1, 1),  # type: ignore[attr-defined]
        )
        refused = cli.invoke(app, ["log", "archive", "--before", day, "--vacuum"])
    assert refused.exit_code == 1
    assert _said(refused.output, "错误", "拒绝执行完整 VACUUM", "refusing a full VACUUM", "archive without --vacuum")
    assert _pragma(db, "page_count") == pages

    done = cli.invoke(app, ["log", "archive", "--before", day, "--vacuum"])
    assert done.exit_code == 0, done.output
    assert _said(done.output, "已完整 VACUUM") and _pragma(db, "page_count") < pages // 2
    assert _pragma(db, "auto_vacuum") == 2
    reset_settings()
