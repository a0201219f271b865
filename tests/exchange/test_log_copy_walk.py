"""PostgreSQL's full walk reads stored values with COPY and renders them in Arrow (`core.chaincopy`).

Every row it renders must be the exact bytes the hub hashed on append; a row it cannot render exactly
must be refused (re-checked by the exact Python hash), never rendered near-enough; and the verdict on
a tampered log must be the exact walk's. Skips without a PostgreSQL server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from log_support import event_kwargs, postgres_available, postgres_engine
from sqlalchemy.orm import Session

from core import chaincopy, chainwalk
from exchange.crypto import Signer
from exchange.log import ExchangeLog, format_report
from exchange.log import _walker as walker
from exchange.log._hashing import event_hash, sm3_hex

pytestmark = pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL on 127.0.0.1:5432")

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PLAIN = 40
ODD: list[dict[str, Any]] = [  # each needs a JSON escape: refused, re-checked exactly
    {"target": 'x"y'},
    {"target": "back\\slash"},
    {"purpose": "line\nbreak"},
    {"purpose": "tab\there"},
    {"client": "bell\u0007"},
]
KEPT: list[dict[str, Any]] = [  # rendered exactly by the kernels: never refused
    {"duration_ms": 1.063},
    {"target": "中文😀\u2028\u007f", "details": {"q": 'say "hi"\\n', "z": [1.5, None, True], "中": {"b": -0.0}}},
    {"duration_ms": 0.1 + 0.2, "rows": 2**53 - 1, "version": None, "details": None},
    {"duration_ms": 0.0, "started_at": START.replace(microsecond=0), "finished_at": START + timedelta(microseconds=1)},
    {"duration_ms": 123456789.987, "purpose": "", "case_number": "ZW-2026-000001"},
]


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    with postgres_engine() as engine:
        yield engine


@pytest.fixture
def xlog(engine: sa.Engine, signer: Signer) -> ExchangeLog:
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=1000)
    events = [event_kwargs(i) for i in range(PLAIN)]
    events += [event_kwargs(PLAIN + i, **extra) for i, extra in enumerate(ODD + KEPT)]
    xlog.append_many(events)
    return xlog


def _copied(engine: sa.Engine) -> list[tuple[int, str, str, bytes]]:
    raw = engine.raw_connection()
    try:
        connection = raw.dbapi_connection
        assert chaincopy.usable(connection)
        return [row for batch in chaincopy.copy_batches(connection, walker.COPY_SPEC, 0, 10**9, 7) for row in batch]
    finally:
        raw.close()


def test_every_row_is_the_hashed_bytes_or_refused(xlog: ExchangeLog, engine: sa.Engine) -> None:
    rows = _copied(engine)  # batches of 7: the cut between batches falls inside the odd rows too
    assert [r[0] for r in rows] == list(range(1, PLAIN + len(ODD) + len(KEPT) + 1))
    refused = [seq for seq, _, _, text in rows if text == chaincopy.REFUSED]
    assert refused == list(range(PLAIN + 1, PLAIN + len(ODD) + 1))
    for seq, _, stored, text in rows:
        if text != chaincopy.REFUSED:
            assert sm3_hex(text) == stored, (seq, text)


def _without_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk before COPY: PostgreSQL renders each row's JSON in SQL, in the caller and in the workers."""
    monkeypatch.setattr(walker, "copy_walker", lambda connection: None)
    monkeypatch.setattr(walker, "COPY_SPEC", None)


def _verdict(xlog: ExchangeLog) -> tuple[Any, ...]:
    """What `govhub log verify` says, word for word, and the fields a caller reads."""
    report = xlog.verify(parallel=True)
    return report.ok, report.problem, report.first_bad_seq, report.events_checked, format_report(report)


def test_an_intact_log_gets_the_same_report_as_the_sql_walk(xlog: ExchangeLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walker, "SPAN", 9)
    intact = _verdict(xlog)
    assert intact[:4] == (True, None, None, PLAIN + len(ODD) + len(KEPT)), intact
    with monkeypatch.context() as old:
        _without_copy(old)
        assert _verdict(xlog) == intact


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE exchange_event SET target = 'edited' WHERE seq = 13",
        "UPDATE exchange_event SET duration_ms = 25.5000001 WHERE seq = 13",
        "UPDATE exchange_event SET recorded_at = recorded_at + interval '1 microsecond' WHERE seq = 13",
        "UPDATE exchange_event SET details = replace(details, '测试', '改过') WHERE seq = 13",
        "UPDATE exchange_event SET prev_hash = repeat('0', 64) WHERE seq = 13",
        "UPDATE exchange_event SET client = 'client-1\"' WHERE seq = 13",
        f"UPDATE exchange_event SET target = 'x' WHERE seq = {PLAIN + 1}",  # a refused row, then edited
        "DELETE FROM exchange_event WHERE seq = 13",
    ],
)
def test_a_tampered_log_gets_the_exact_walks_verdict(
    xlog: ExchangeLog, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    monkeypatch.setattr(walker, "SPAN", 9)  # several spans: worker processes, their seams, and the local walker
    # intact before the edit: the in-process COPY walk says so without starting workers (the parallel walk's
    # verdict on this intact log is test_an_intact_log_gets_the_same_report_as_the_sql_walk's)
    intact = xlog.verify()
    assert (intact.ok, intact.problem, intact.first_bad_seq) == (True, None, None)
    with engine.begin() as conn:
        conn.exec_driver_sql(edit)
    found = _verdict(xlog)
    assert found[0] is False and found[2] is not None and found[2] <= PLAIN + 1, found
    with monkeypatch.context() as old:
        _without_copy(old)
        assert _verdict(xlog) == found


def test_a_duration_edited_onto_a_rounding_tie_is_caught(
    xlog: ExchangeLog, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1.063 -> 1.0625: Python hashes "1.062", PostgreSQL's round(numeric) renders "1.063", so the SQL walk
    accepted the edit. The COPY walk does not round a tie itself: the row is re-checked and found."""
    seq = PLAIN + len(ODD) + 1
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE exchange_event SET duration_ms = 1.0625 WHERE seq = {seq}")
    monkeypatch.setattr(walker, "SPAN", 1000)
    report = xlog.verify(parallel=True)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "changed", seq)
    with monkeypatch.context() as old:
        _without_copy(old)
        missed = xlog.verify(parallel=True)
    assert missed.ok  # the SQL rendering's round() hid the edit


def test_workers_read_with_copy(xlog: ExchangeLog, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parallel walk's workers take the COPY path (a statement with a bad column would fail them)."""
    broken = chaincopy.CopySpec("exchange_event", (("seq", "seq"), ("no_such_column", "text")))
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    spans = chainwalk.walk_spans(
        after=0,
        until=60,
        local=lambda lo, hi, pins: chainwalk.Span(lo, hi),
        dsn=dsn,
        dialect="postgresql",
        sql=walker.statements("postgresql"),
        copy=broken,
        span=9,
    )
    with pytest.raises(Exception, match="no_such_column"):
        list(spans)


def test_a_rewritten_and_rehashed_chain_is_caught_by_the_hash_the_walk_pinned(
    engine: sa.Engine, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers report the stored hash at each checkpointed seq; a consistent forgery still fails there."""
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=10)
    for start in range(0, 30, 10):
        xlog.append_many([event_kwargs(i) for i in range(start, start + 10)])
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.exec_driver_sql("SELECT * FROM exchange_event ORDER BY seq").mappings()]
        prev = rows[2]["hash"]
        for row in rows[3:]:  # change seq 4, then recompute every later hash and link, as a forger could
            row.update(prev_hash=prev, rows=0 if row["seq"] == 4 else row["rows"])
            prev = event_hash({**row, "details": json.loads(row["details"])})
            conn.exec_driver_sql(
                "UPDATE exchange_event SET rows = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                (row["rows"], row["prev_hash"], prev, row["seq"]),
            )
        conn.exec_driver_sql("UPDATE exchange_log_head SET hash = %s", (prev,))
    monkeypatch.setattr(walker, "SPAN", 7)  # the checkpoints at 10, 20 and 30 fall inside worker spans
    found = _verdict(xlog)
    assert found[:3] == (False, "checkpoint_mismatch", 10), found
    with monkeypatch.context() as old:
        _without_copy(old)
        assert _verdict(xlog) == found


def _verdict_in(engine: sa.Engine, tampering: Any, *, sql_walk: bool) -> str | None:
    """Apply a tampering in a transaction, verify inside it (the in-process walker), roll back: the report's
    text, or None when PostgreSQL refuses the tampering itself (a value of another type)."""
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            try:
                with conn.begin_nested():
                    tampering.apply(conn)
            except sa.exc.DBAPIError:
                return None
            with pytest.MonkeyPatch.context() as patch, Session(bind=conn) as session:
                if sql_walk:
                    _without_copy(patch)
                report = ExchangeLog(session).verify()
            return format_report(report)
        finally:
            trans.rollback()


def test_systematic_tamperings_get_the_sql_walks_report(engine: sa.Engine, signer: Signer) -> None:
    """Every field of events at the first, last and random positions edited, deletions, reorders, forged
    events and re-hashes (the reliability suite's generator): the COPY walk's report is the SQL walk's,
    word for word, and says tampered."""
    from tests.reliability.tamper_log import db_tamperings, load_rows

    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=10)
    xlog.append_many([event_kwargs(i, started_at=START + timedelta(seconds=i)) for i in range(36)])
    with engine.connect() as conn:
        rows = load_rows(conn)
    tried = 0
    for tampering in db_tamperings(rows, seed=20261205, per_field=2, per_family=3):
        copy_report = _verdict_in(engine, tampering, sql_walk=False)
        if copy_report is None:
            continue
        tried += 1
        assert copy_report.startswith("Exchange log TAMPERED"), (tampering.what, copy_report)
        assert copy_report == _verdict_in(engine, tampering, sql_walk=True), tampering.what
    assert tried >= 50
