"""Verification that costs what is new, single flight, the parallel full walk, monthly archives, rollups, refusals."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from exchange.crypto import load_or_create_signer
from exchange.log import (
    ExchangeLog,
    SingleFlight,
    check_full,
    check_incremental,
    last_full_check,
    verified_mark,
)
from exchange.log import checks as checks_module
from exchange.log.models import Rollup
from exchange.log.refusals import RefusalWindow
from exchange.log.rollup import refresh_rollups
from tests.exchange.log_support import postgres_available, postgres_engine, sqlite_engine

START = datetime(2026, 1, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sqlite_engine(tmp_path / "hub.db")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return load_or_create_signer(tmp_path_factory.mktemp("keys"))


def _fill(xlog: ExchangeLog, count: int, *, kind: str = "verification") -> None:
    for start in range(0, count, 500):
        xlog.append_many(
            [
                {
                    "type": kind,
                    "source": "hub",
                    "target": "client:c1",
                    "client": "c1",
                    "outcome": "ok",
                    "case_number": f"YY-{start + i}",
                    "details": {"n": start + i},
                }
                for i in range(min(500, count - start))
            ]
        )


def _edit(engine: sa.Engine, seq: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE exchange_event SET purpose = 'edited' WHERE seq = {seq}")


def test_incremental_check_moves_the_mark_and_finds_new_edits_only_after_it(engine: sa.Engine, signer) -> None:  # type: ignore[no-untyped-def]
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=1000)
    _fill(xlog, 2500)
    first = check_incremental(xlog)
    assert first.ok and first.events_checked == 2500
    with Session(engine) as session:
        assert (verified_mark(session).seq, verified_mark(session).checkpoint_id) == (2000, 2)
    again = check_incremental(xlog)
    assert again.ok and again.events_checked == 500  # only what follows the verified checkpoint
    _edit(engine, 2300)  # after the mark: the next page view finds it
    after = check_incremental(xlog)
    assert (after.ok, after.problem, after.first_bad_seq) == (False, "changed", 2300)
    with engine.begin() as conn:  # undone
        conn.exec_driver_sql("UPDATE exchange_event SET purpose = NULL WHERE seq = 2300")
    assert check_incremental(xlog).ok
    _edit(engine, 1500)  # before the mark: the incremental check does not walk there ...
    assert check_incremental(xlog).ok
    full = check_full(xlog)  # ... the full walk (govhub log verify, the scheduled DAG) does, and records it
    assert (full.ok, full.problem, full.first_bad_seq) == (False, "changed", 1500)
    with Session(engine) as session:
        recorded = last_full_check(session)
        assert (recorded.ok, recorded.first_bad_seq, recorded.problem) == (False, 1500, "changed")


def test_the_scheduled_check_finds_an_edit_before_the_verified_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.log import ChainBrokenError
    from govhub.db import get_engine, migrate
    from govhub.exchange_log import hub_log
    from govhub.log_checks import run_log_check
    from govhub.settings import reset_settings
    from web.monitor.alerts import chain_state

    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    reset_settings()
    migrate()
    try:
        _fill(hub_log(), 1200)
        assert run_log_check()["events"] == 1200
        _edit(get_engine(), 10)
        with Session(get_engine()) as session:
            assert chain_state(session, keys_dir=tmp_path / "hub" / "keys").ok  # the page checks what is new
        with pytest.raises(ChainBrokenError, match="seq 10"):
            run_log_check()
        with Session(get_engine()) as session:  # every page shows the failed full walk from then on
            state = chain_state(session, keys_dir=tmp_path / "hub" / "keys")
            assert (state.ok, state.first_bad_seq) == (False, 10) and "full walk" in state.detail
    finally:
        get_engine().dispose()
        reset_settings()


def test_single_flight_runs_once_for_concurrent_callers(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    xlog = ExchangeLog(engine)
    _fill(xlog, 50)
    walks: list[int] = []
    real = ExchangeLog.verify

    def slow(self: ExchangeLog, **kw):  # type: ignore[no-untyped-def]
        walks.append(1)
        time.sleep(0.5)
        return real(self, **kw)

    monkeypatch.setattr(ExchangeLog, "verify", slow)
    monkeypatch.setattr(checks_module, "_flights", SingleFlight())
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(check_incremental(xlog))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(walks) == 1 and len(results) == 5 and all(r is results[0] for r in results)
    check_incremental(xlog)  # the next view starts its own check
    assert len(walks) == 2


def test_single_flight_hands_the_error_to_every_waiter() -> None:
    flight, started = SingleFlight(), threading.Event()
    errors: list[BaseException] = []

    def boom() -> None:
        started.set()
        time.sleep(0.2)
        raise RuntimeError("walk failed")

    def call() -> None:
        try:
            flight.run("k", boom)
        except RuntimeError as e:
            errors.append(e)

    first = threading.Thread(target=call)
    first.start()
    started.wait()
    second = threading.Thread(target=call)
    second.start()
    first.join()
    second.join()
    assert flight.calls == 1 and len(errors) == 2


@pytest.mark.parametrize(
    "store",
    [
        "sqlite",
        pytest.param(
            "postgresql", marks=pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL on 127.0.0.1:5432")
        ),
    ],
)
def test_parallel_full_walk_agrees_with_the_python_walk(tmp_path: Path, signer, store: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from exchange.log import _walker

    monkeypatch.setattr(_walker, "SPAN", 300)  # several spans, so the worker processes and their seams are used
    context = postgres_engine() if store == "postgresql" else _sqlite(tmp_path)
    with context as engine:
        xlog = ExchangeLog(engine, signer=signer, checkpoint_every=250)
        _fill(xlog, 1000)
        xlog.append(  # values the SQL must render exactly like the hub's canonical JSON
            "delivery",
            source="govhub",
            target='x"\\\n\t\u0001\u007f中文😀',
            rows=2**53 - 1,
            duration_ms=0.1 + 0.2,
            details={"z": 1, "a": [1.5, "\u2028", None, True], "中": {"b": -0.0}},
            started_at=START,
        )
        report = xlog.verify(parallel=True)
        assert report.ok and report.events_checked == 1001
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE exchange_event SET target = 'edited' WHERE seq = 777")
        broken = xlog.verify(parallel=True)
        assert (broken.problem, broken.first_bad_seq, broken.events_checked) == ("changed", 777, 776)


class _sqlite:
    def __init__(self, path: Path) -> None:
        self.engine = sqlite_engine(path / "walk.db")

    def __enter__(self) -> sa.Engine:
        return self.engine

    def __exit__(self, *exc: object) -> None:
        self.engine.dispose()


def test_monthly_archives_and_live_events_verify_as_one_chain(engine: sa.Engine, signer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    moment = {"now": START}
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=100, clock=lambda: moment["now"])
    for day in range(70):  # 30 Jan .. 9 Apr: four calendar months
        moment["now"] = START + timedelta(days=day)
        _fill(xlog, 10)
    check_incremental(xlog)
    info = xlog.archive(tmp_path / "lake", before=datetime(2026, 4, 1, tzinfo=UTC))
    assert [Path(p).parent.name for p in info.files] == ["2026-01", "2026-02", "2026-03"]
    assert (info.from_seq, info.events) == (1, 610)  # 2 + 28 + 31 days of 10 events
    assert xlog.count() == 90
    with engine.connect() as conn:  # a database made before incremental mode keeps the pages free, not vacuumed
        free = conn.exec_driver_sql("PRAGMA freelist_count").scalar()
    assert info.reclaim is not None and info.reclaim.method == "none" and info.reclaim.free_pages == free > 0
    assert [cp.seq for cp in xlog.checkpoints() if cp.seq in (20, 300, 610)] == [20, 300, 610]  # each file pinned
    whole = xlog.verify(archives=tmp_path / "lake")
    assert whole.ok and (whole.events_checked, whole.archives_checked, whole.first_seq) == (700, 3, 1)
    assert check_incremental(xlog).ok  # the mark moved past the archived events
    with Session(engine) as session:
        assert verified_mark(session).seq >= 610


def test_rollups_count_every_event_once_by_beijing_hour_and_day(engine: sa.Engine) -> None:
    moment = {"now": datetime(2026, 3, 1, 15, 30, tzinfo=UTC)}  # 23:30 Beijing
    xlog = ExchangeLog(engine, clock=lambda: moment["now"])
    _fill(xlog, 30)
    moment["now"] += timedelta(hours=1)  # 00:30 Beijing, the next day
    _fill(xlog, 20, kind="delivery")
    assert refresh_rollups(engine) == 50
    assert refresh_rollups(engine) == 0  # nothing new: nothing counted twice
    with Session(engine) as session:
        days = dict(session.execute(sa.select(Rollup.bucket, Rollup.events).where(Rollup.grain == "d")).all())
        hours = dict(session.execute(sa.select(Rollup.bucket, Rollup.events).where(Rollup.grain == "h")).all())
    assert days == {"2026-03-01": 30, "2026-03-02": 20}
    assert hours == {"2026-03-01 23:00": 30, "2026-03-02 00:00": 20}


def test_refusal_window_writes_one_event_per_address_and_window() -> None:
    written: list[dict] = []
    now = {"t": 0.0}
    window = RefusalWindow(written.extend, window=60, limit=3, clock=lambda: now["t"])
    answers = [window.note("10.0.0.1", code="invalid_key", status=401, path="/api/x") for _ in range(5)]
    window.note("10.0.0.2", code="missing_key", status=401, path="/api/y")
    assert answers == [True, True, True, False, False] and written == []
    now["t"] = 61
    assert window.note("10.0.0.1", code="invalid_key", status=401, path="/api/x")  # a new window: allowed again
    assert [(e["target"], e["rows"]) for e in written] == [("address:10.0.0.1", 5), ("address:10.0.0.2", 1)]
    assert written[0]["details"]["over_limit"] == 2
    assert window.flush(everything=True) == 1 and written[-1]["rows"] == 1
