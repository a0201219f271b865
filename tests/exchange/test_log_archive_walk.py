"""Archived events are checked at line rate (Arrow-rendered, OpenSSL-hashed) and still name the first change.

Every test here runs again on PostgreSQL (test_postgres_log.py), where the month is read by COPY.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from log_support import event_kwargs, sql

from exchange.crypto import Signer
from exchange.log import ChainBrokenError, ExchangeLog
from exchange.log import archive_walk as walk_module
from exchange.log._hashing import sm3_hex

_UNUSUAL: dict[int, dict[str, Any]] = {  # values off the kernels' plain path (seq = key + 1)
    2: {"purpose": 'say "hi"'},  # a string needing a JSON escape
    3: {"purpose": "line\nbreak\\tab\t"},  # a control character and a backslash
    4: {"duration_ms": -2.5},  # negative
    5: {"duration_ms": 1e13},  # exponent form
    6: {"details": {"url": "http://x", "sep": "a, b: c", "q": 'x"y'}},  # re-encoded: ", " inside a string
    7: {"details": {"f": 0.1, "e": 1e21}},  # floats: JCS, not json.dumps, when re-encoded
}


@pytest.fixture
def exact_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seqs the fast path handed to the exact hashing (`archive_walk._exact`)."""
    calls: list[int] = []
    real = walk_module._exact

    def spy(batch: pa.RecordBatch, i: int, seq: int, link: str) -> bool:
        calls.append(batch.column("seq")[i].as_py())
        return real(batch, i, seq, link)

    monkeypatch.setattr(walk_module, "_exact", spy)
    return calls


def _archived(engine: sa.Engine, tmp_path: Path, *, signer: Signer | None = None) -> tuple[ExchangeLog, Path, str]:
    """12 events archived (the ones in `_UNUSUAL` at seq 3..8), 2 left; the lake and the archive file."""
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=1000)
    xlog.append_many([event_kwargs(i, **_UNUSUAL.get(i, {})) for i in range(12)])
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    xlog.append_many([event_kwargs(i) for i in range(12, 14)])
    lake = tmp_path / "lake"
    info = xlog.archive(lake, before=cutoff)
    assert (info.from_seq, info.to_seq) == (1, 12) and info.path is not None
    return xlog, lake, info.path


def _rewrite(lake: Path, rel: str, name: str, change: Callable[[Any], Any], index: int = 4) -> str:
    """Change one archived value the way a tamperer with lake access would; the event id there."""
    table = pq.read_table(lake / rel)
    values = table.column(name).to_pylist()
    values[index] = change(values[index])
    column = pa.array(values, table.schema.field(name).type)
    pq.write_table(table.set_column(table.schema.get_field_index(name), table.schema.field(name), column), lake / rel)
    return str(table.column("event_id")[index].as_py())


def test_intact_archives_pass_and_only_refused_rows_are_hashed_exactly(
    engine: sa.Engine, tmp_path: Path, exact_calls: list[int]
) -> None:
    xlog, lake, _ = _archived(engine, tmp_path)
    exact_calls.clear()  # the archive's own read-back
    report = xlog.verify(archives=lake)
    assert report.ok and report.events_checked == 14 and report.archives_checked == 1
    assert exact_calls == [3, 4, 5, 6]  # only the rows the kernels refused (details are parsed, not refused)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("source", lambda v: v + "x"),  # text
        ("recorded_at", lambda v: v + timedelta(microseconds=1)),  # time
        ("duration_ms", lambda v: v + 0.0015),  # 21.5 ("21.500") to a value within a rounding tie
        ("details", lambda v: v.replace('"http://x"', '"http://y"')),  # JSON
        ("purpose", lambda v: v.replace("hi", "ho")),  # a string needing an escape
        ("checksum", lambda v: None),  # null
    ],
)
def test_a_tampered_archived_value_is_named(
    engine: sa.Engine, tmp_path: Path, exact_calls: list[int], name: str, change: Callable[[Any], Any]
) -> None:
    xlog, lake, rel = _archived(engine, tmp_path)
    index = {"details": 6, "purpose": 2}.get(name, 9)
    event_id = _rewrite(lake, rel, name, change, index)
    exact_calls.clear()
    report = xlog.verify(archives=lake)
    assert (report.problem, report.first_bad_seq, report.first_bad_event_id) == ("changed", index + 1, event_id)
    assert report.events_checked == index
    assert exact_calls[-1] == index + 1 and set(exact_calls) <= {3, 4, 5, 6, index + 1}


def test_an_archived_value_python_cannot_read_names_the_file(engine: sa.Engine, tmp_path: Path) -> None:
    """A time beyond year 9999 renders (the kernels refuse it) but cannot be read back: the file is damaged."""
    xlog, lake, rel = _archived(engine, tmp_path)
    table = pq.read_table(lake / rel)
    times = table.column("recorded_at").cast(pa.int64()).to_pylist()
    times[9] = 2**62  # year 17036
    column = pa.array(times, pa.int64()).cast(table.schema.field("recorded_at").type)
    index = table.schema.get_field_index("recorded_at")
    pq.write_table(table.set_column(index, table.schema.field("recorded_at"), column), lake / rel)
    with pytest.raises(ChainBrokenError, match=r"archive file .*000000000001-000000000012\.parquet.* is unreadable"):
        xlog.verify(archives=lake)


def test_files_written_with_spaced_details_verify_on_the_fast_path(
    engine: sa.Engine, tmp_path: Path, exact_calls: list[int]
) -> None:
    """Archives written before the file kept the stored canonical text had `json.dumps`' default separators."""
    xlog, lake, rel = _archived(engine, tmp_path)
    table = pq.read_table(lake / rel)
    spaced = [
        None if t is None else json.dumps(json.loads(t), sort_keys=True, ensure_ascii=False)
        for t in table["details"].to_pylist()
    ]
    assert any(", " in t for t in spaced if t)
    index = table.schema.get_field_index("details")
    pq.write_table(table.set_column(index, table.schema.field("details"), pa.array(spaced, pa.string())), lake / rel)
    sql(engine, "UPDATE exchange_log_archive SET file_sm3 = :d", d=sm3_hex((lake / rel).read_bytes()))
    exact_calls.clear()
    report = xlog.verify(archives=lake)
    assert report.ok and report.events_checked == 14
    assert exact_calls == [3, 4, 5, 6]  # the details were re-encoded, not hashed exactly


def test_a_checkpoint_signed_at_an_archived_seq_is_still_checked(
    engine: sa.Engine, tmp_path: Path, signer: Signer
) -> None:
    xlog, lake, rel = _archived(engine, tmp_path, signer=signer)
    assert xlog.verify(archives=lake).ok
    with xlog._tx() as tx:  # a validly signed checkpoint naming another hash at archived seq 5
        xlog._sign(tx, 5, "0" * 64)
    report = xlog.verify(archives=lake)
    event_id = pq.read_table(lake / rel).column("event_id")[4].as_py()
    assert (report.problem, report.first_bad_seq, report.first_bad_event_id) == ("checkpoint_mismatch", 5, event_id)
    assert report.events_checked == 5


def test_a_month_is_read_into_arrow_with_the_values_the_orm_reads(engine: sa.Engine, tmp_path: Path) -> None:
    """The fast reads (COPY on PostgreSQL, a raw cursor on SQLite) give the ORM's values, batch by batch."""
    from exchange.log import archive_write

    xlog = ExchangeLog(engine)
    xlog.append_many([event_kwargs(i, **_UNUSUAL.get(i, {})) for i in range(12)])
    xlog.append(**event_kwargs(12, resource=None, duration_ms=None, details=None, purpose=""))
    with engine.begin() as conn:
        fast = pa.Table.from_batches(list(archive_write.month_batches(conn, 1, 13)))
        slow = pa.Table.from_batches([archive_write.orm_batch(conn, 1, 13)])
    assert fast.num_rows == 13 and fast.equals(slow)
    assert fast.column("purpose")[12].as_py() == "" and fast.column("details")[12].as_py() is None
