"""Archiving old events to Parquet in the lake keeps the chain verifiable across the files."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from log_support import event_kwargs, sql

from exchange.crypto import Signer
from exchange.log import ChainBrokenError, ExchangeLog, ExchangeLogError
from exchange.log.archive import ARCHIVE_SCHEMA


def _two_periods(xlog: ExchangeLog, old: int = 30, new: int = 10) -> datetime:
    """`old` events, a cut-off time, then `new` events."""
    xlog.append_many([event_kwargs(i) for i in range(old)])
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    xlog.append_many([event_kwargs(i) for i in range(old, old + new)])
    return cutoff


def test_archive_moves_old_events_and_the_chain_still_verifies(
    engine: sa.Engine, signer: Signer, tmp_path: Path
) -> None:
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=1000)
    lake = tmp_path / "lake"
    cutoff = _two_periods(xlog)
    info = xlog.archive(lake, before=cutoff)
    assert (info.events, info.from_seq, info.to_seq) == (30, 1, 30)
    assert info.path == f"exchange_log/archive/{cutoff:%Y-%m}/000000000001-000000000030.parquet"
    table = pq.read_table(lake / info.path)
    assert table.schema.equals(ARCHIVE_SCHEMA) and table.num_rows == 30
    assert table.column("seq").to_pylist() == list(range(1, 31))
    assert xlog.count() == 10
    assert [cp.seq for cp in xlog.checkpoints()] == [30]  # the archive head is pinned by the hub key

    without = xlog.verify()
    assert without.ok and without.events_checked == 10 and without.first_seq == 31
    assert any("not re-read" in note for note in without.notes)
    across = xlog.verify(archives=lake)
    assert across.ok and across.events_checked == 40 and across.archives_checked == 1

    xlog.append(**event_kwargs(99))  # the chain goes on after an archive
    assert xlog.archive(lake, before=cutoff).events == 0  # nothing more is due
    second = xlog.archive(lake, before=datetime.now(UTC))
    assert (second.from_seq, second.to_seq) == (31, 41)
    assert xlog.count() == 0
    assert xlog.verify(archives=lake).events_checked == 41
    assert xlog.append(**event_kwargs(100)).seq == 42
    assert xlog.verify().ok and xlog.verify(archives=lake).ok


def test_the_first_remaining_event_must_link_to_the_archive_head(engine: sa.Engine, tmp_path: Path) -> None:
    xlog = ExchangeLog(engine)
    xlog.archive(tmp_path / "lake", before=_two_periods(xlog))
    sql(engine, "DELETE FROM exchange_event WHERE seq = 31")
    report = xlog.verify()
    assert (report.problem, report.missing_seqs, report.first_bad_seq) == ("removed", (31, 31), 32)


def test_a_changed_archive_file_is_detected_when_archives_are_reread(engine: sa.Engine, tmp_path: Path) -> None:
    xlog = ExchangeLog(engine)
    lake = tmp_path / "lake"
    info = xlog.archive(lake, before=_two_periods(xlog))
    table = pq.read_table(lake / info.path)
    rows = table.column("rows").to_pylist()
    rows[4] = 0
    pq.write_table(table.set_column(table.schema.get_field_index("rows"), "rows", [rows]), lake / info.path)
    assert xlog.verify().ok  # the database part alone is still intact
    report = xlog.verify(archives=lake)
    assert (report.problem, report.first_bad_seq) == ("changed", 5)
    assert report.first_bad_event_id == table.column("event_id")[4].as_py()
    (lake / info.path).unlink()
    with pytest.raises(ChainBrokenError, match=r"archive file .* is missing"):
        xlog.verify(archives=lake)


def test_a_broken_chain_is_not_archived(engine: sa.Engine, tmp_path: Path) -> None:
    xlog = ExchangeLog(engine)
    cutoff = _two_periods(xlog)
    sql(engine, "UPDATE exchange_event SET target = 'x' WHERE seq = 3")
    with pytest.raises(ChainBrokenError, match=r"refusing to archive a broken exchange log \(changed\)"):
        xlog.archive(tmp_path / "lake", before=cutoff)
    assert xlog.count() == 40 and not (tmp_path / "lake").exists()


def test_an_s3_url_without_its_settings_is_refused(engine: sa.Engine) -> None:
    xlog = ExchangeLog(engine)
    xlog.append(**event_kwargs(1))
    with pytest.raises(ExchangeLogError, match="needs the lake's S3 settings: pass the Lake object"):
        xlog.archive("s3://govhub-lake/prod", before=datetime.now(UTC))


def test_archives_in_an_s3_lake_keep_the_chain_verifiable(engine: sa.Engine) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lake"))
    from lake_moto import moto_lake

    xlog = ExchangeLog(engine)
    cutoff = _two_periods(xlog)
    try:
        context = moto_lake("exchange-archive")
        lake = context.__enter__()
    except (RuntimeError, OSError, ImportError) as e:
        pytest.skip(f"moto's S3 server could not start: {e}")
    try:
        info = xlog.archive(lake, before=cutoff)
        assert info.events == 30 and info.path.startswith("exchange_log/archive/")
        report = xlog.verify(archives=lake)
        assert report.ok and report.archives_checked == 1 and report.events_checked == 40
    finally:
        context.__exit__(None, None, None)


def test_reading_an_archive_back_holds_one_row_group_at_a_time(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory while re-reading an archive does not grow with the file (a year's month is millions of events)."""
    import pyarrow as pa

    from exchange.log import archive_write
    from exchange.log.archive import iter_archive_rows
    from exchange.log.models import ArchiveRecord

    monkeypatch.setattr(archive_write, "BATCH", 40)  # one row group per 40 events: 60 groups
    xlog = ExchangeLog(engine)
    lake = tmp_path / "lake"
    info = xlog.archive(lake, before=_two_periods(xlog, old=2400, new=1))
    parquet = pq.ParquetFile(lake / info.path)
    assert parquet.num_row_groups == 60
    group_bytes = max(parquet.read_row_group(g).nbytes for g in range(parquet.num_row_groups))
    record = ArchiveRecord(path=info.path, from_seq=info.from_seq, to_seq=info.to_seq, file_sm3=info.file_sm3)
    held, seqs = 0, []
    for row in iter_archive_rows(lake, [record]):
        held = max(held, pa.total_allocated_bytes())
        seqs.append(row["seq"])
    assert seqs == list(range(1, 2401))
    assert held < 6 * group_bytes, f"{held} bytes held while reading back, {group_bytes} per row group"
