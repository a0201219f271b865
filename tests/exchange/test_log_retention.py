"""Retention: archived months leave the database (PostgreSQL drops their partitions), a crash mid-archive then a
re-run leaves one clean archive, and the fast walk stays exact when a value cannot be rendered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from log_support import event_kwargs, postgres_available, postgres_engine

import exchange.log.archive as archive_module
from exchange.crypto import Signer
from exchange.log import ArchiveRecord, ExchangeLog, Rollup, check_full, check_incremental, refresh_rollups
from exchange.log.partitions import ensure_partitions, is_partitioned, partition_exchange_event

START = datetime(2026, 1, 30, 12, tzinfo=UTC)
MONTHS_BEFORE_APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def _seventy_days(engine: sa.Engine, signer: Signer) -> ExchangeLog:
    """10 events a day from 30 Jan to 9 Apr 2026 (four calendar months), checkpoints every 100."""
    moment = {"now": START}
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=100, clock=lambda: moment["now"])
    for day in range(70):
        moment["now"] = START + timedelta(days=day)
        xlog.append_many([event_kwargs(day * 10 + i) for i in range(10)])
    return xlog


def _partitions(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'exchange_event'::regclass"
        )
        return {name for (name,) in rows}


def _crash_after_removal(monkeypatch: pytest.MonkeyPatch, month: str) -> None:
    """Fail the archive of `month` after its rows were removed, before its transaction commits."""
    real = archive_module._remove_events

    def failing(tx: Any, first: int, last: int, end: datetime) -> list[str]:
        dropped = real(tx, first, last, end)
        if f"{end - timedelta(days=1):%Y-%m}" == month:
            raise OSError("power cut")
        return dropped

    monkeypatch.setattr(archive_module, "_remove_events", failing)


def _one_clean_archive(xlog: ExchangeLog, engine: sa.Engine, lake: Path) -> None:
    with engine.connect() as conn:
        records = conn.execute(sa.select(ArchiveRecord.from_seq, ArchiveRecord.to_seq).order_by("from_seq")).all()
    assert [tuple(r) for r in records] == [(1, 20), (21, 300), (301, 610)]
    files = sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file())
    assert files == [
        "exchange_log/archive/2026-01/000000000001-000000000020.parquet",
        "exchange_log/archive/2026-02/000000000021-000000000300.parquet",
        "exchange_log/archive/2026-03/000000000301-000000000610.parquet",
    ]  # no temp file, no second copy
    assert xlog.count() == 90
    whole = check_full(xlog, archives=lake)
    assert whole.ok and (whole.events_checked, whole.archives_checked) == (700, 3)


def test_sqlite_crash_during_archive_then_rerun_is_one_clean_archive(
    engine: sa.Engine, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xlog = _seventy_days(engine, signer)
    lake = tmp_path / "lake"
    _crash_after_removal(monkeypatch, "2026-02")
    with pytest.raises(OSError, match="power cut"):
        xlog.archive(lake, before=MONTHS_BEFORE_APRIL)
    assert xlog.count() == 680  # January went; February's removal was rolled back with its record
    monkeypatch.undo()
    xlog.archive(lake, before=MONTHS_BEFORE_APRIL)
    _one_clean_archive(xlog, engine, lake)


def test_a_file_that_does_not_read_back_keeps_its_events(
    engine: sa.Engine, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.log import ChainBrokenError

    xlog = _seventy_days(engine, signer)
    real = archive_module._Location.write_atomically

    def truncating(self: Any, rel: str, batches: Any) -> tuple[int, str]:
        return real(self, rel, (b.slice(0, b.num_rows - 1) for b in batches))  # loses the last event

    monkeypatch.setattr(archive_module._Location, "write_atomically", truncating)
    with pytest.raises(ChainBrokenError, match="nothing was removed"):
        xlog.archive(tmp_path / "lake", before=MONTHS_BEFORE_APRIL)
    assert xlog.count() == 700


def test_the_fast_walk_rechecks_a_batch_holding_a_blob(engine: sa.Engine, signer: Signer) -> None:
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=100)
    xlog.append_many([event_kwargs(i) for i in range(300)])
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE exchange_event SET purpose = x'00ff' WHERE seq = 250")
    report = xlog.verify()
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "changed", 250)


needs_postgres = pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL on 127.0.0.1:5432")


@needs_postgres
@pytest.mark.slow
def test_postgresql_archive_drops_month_partitions_and_verifies_across_archives(signer: Signer, tmp_path: Path) -> None:
    with postgres_engine() as engine:
        with engine.begin() as conn:
            partition_exchange_event(conn)
            assert is_partitioned(conn)
            ensure_partitions(conn, since=START, through=START + timedelta(days=70))
        xlog = _seventy_days(engine, signer)
        assert {"exchange_event_2026_01", "exchange_event_2026_04"} <= _partitions(engine)
        check_incremental(xlog)
        assert refresh_rollups(engine) == 700  # aggregated and upserted by the database in one statement
        lake = tmp_path / "lake"
        info = xlog.archive(lake, before=MONTHS_BEFORE_APRIL)
        assert (info.from_seq, info.to_seq, len(info.files)) == (1, 610, 3)
        left = _partitions(engine)
        assert not left & {"exchange_event_2026_01", "exchange_event_2026_02", "exchange_event_2026_03"}
        assert "exchange_event_2026_04" in left
        _one_clean_archive(xlog, engine, lake)
        assert xlog.append(**event_kwargs(999)).seq == 701  # the chain goes on in the live partitions
        assert check_full(xlog, archives=lake).ok
        assert refresh_rollups(engine) == 1  # the new event adds to its day; archived events stay counted
        with engine.connect() as conn:
            daily = conn.execute(sa.select(sa.func.sum(Rollup.events)).where(Rollup.grain == "d")).scalar()
            hourly = conn.execute(sa.select(sa.func.sum(Rollup.events)).where(Rollup.grain == "h")).scalar()
        assert daily == hourly == 701
        assert _paged_seqs(engine) == list(range(701, 610, -1))  # keyset pages across partitions, to the archive


def _paged_seqs(engine: sa.Engine) -> list[int]:
    """Every seq the monitor's log pages show, newest first, following the `older` cursor to the end."""
    from sqlalchemy.orm import Session

    from web.monitor.auth import Viewer
    from web.monitor.queries import LogFilter, log_page

    seen: list[int] = []
    before = None
    with Session(engine) as session:
        while True:
            page = log_page(session, Viewer("admin", "admin"), LogFilter(), before=before, per_page=37)
            seen += [e.seq for e in page.events]
            if page.older is None:
                oldest = log_page(session, Viewer("admin", "admin"), LogFilter(), oldest=True, per_page=37)
                assert [e.seq for e in oldest.events] == seen[-37:] and oldest.older is None
                return seen
            before = page.older


@needs_postgres
def test_postgresql_crash_during_archive_then_rerun_is_one_clean_archive(
    signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with postgres_engine() as engine:
        with engine.begin() as conn:
            partition_exchange_event(conn)
        xlog = _seventy_days(engine, signer)  # every event lands in the default partition first
        lake = tmp_path / "lake"
        _crash_after_removal(monkeypatch, "2026-03")
        with pytest.raises(OSError, match="power cut"):
            xlog.archive(lake, before=MONTHS_BEFORE_APRIL)
        assert "exchange_event_2026_03" in _partitions(engine)  # the detach and drop were rolled back
        assert xlog.count() == 400
        monkeypatch.undo()
        xlog.archive(lake, before=MONTHS_BEFORE_APRIL)
        assert "exchange_event_2026_03" not in _partitions(engine)
        _one_clean_archive(xlog, engine, lake)


@needs_postgres
def test_migration_0014_partitions_a_postgresql_log_with_its_events(signer: Signer) -> None:
    import uuid

    from alembic import command
    from alembic.config import Config

    import govhub.db

    name = f"govhub_test_0014_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        config = Config()
        config.set_main_option("script_location", str(govhub.db._MIGRATIONS))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0010")
        xlog = _seventy_days(engine, signer)  # on the flat table of 0010
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0014")
            assert is_partitioned(conn)
        assert {"exchange_event_2026_01", "exchange_event_2026_04", "exchange_event_default"} <= _partitions(engine)
        assert xlog.count() == 700
        assert check_full(xlog).ok  # every event, hash and checkpoint survived the move
        assert xlog.append(**event_kwargs(700)).seq == 701
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
