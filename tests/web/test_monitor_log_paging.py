"""The monitor's log page at scale: keyset paging at its boundaries, filters, case-number and subject search."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.log import ExchangeEvent, ExchangeLog
from exchange.subjects import subject_hash
from govhub.exchange_log import hub_subject_keys
from govhub.settings import reset_settings
from tests.exchange.log_support import sqlite_engine
from web.monitor.auth import Viewer
from web.monitor.queries import LogFilter, log_page

ADMIN = Viewer("admin", "admin")
ID = "43090219900101123x"


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    reset_settings()
    engine = sqlite_engine(tmp_path / "hub.db")
    keys = hub_subject_keys()
    ExchangeLog(engine).append_many(
        [
            {
                "type": "delivery" if n % 3 == 0 else "verification",
                "source": "hub",
                "target": "t",
                "department": "D1" if n % 3 == 0 else None,
                "client": None if n % 3 == 0 else "c1",
                "case_number": f"YY-{n:04d}",
                "subject_hash": subject_hash(ID if n == 42 else str(n), keys=keys),
            }
            for n in range(1, 121)
        ]
    )
    with Session(engine) as session:
        yield session
    engine.dispose()
    reset_settings()


def _seqs(page) -> list[int]:  # type: ignore[no-untyped-def]
    return [e.seq for e in page.events]


def test_keyset_pages_walk_the_log_both_ways_without_gaps_or_repeats(session: Session) -> None:
    first = log_page(session, ADMIN, LogFilter(), per_page=50)
    assert _seqs(first) == list(range(120, 70, -1)) and (first.newer, first.older, first.total) == (None, 71, 120)
    second = log_page(session, ADMIN, LogFilter(), before=first.older, per_page=50)
    assert _seqs(second) == list(range(70, 20, -1)) and (second.newer, second.older) == (70, 21)
    last = log_page(session, ADMIN, LogFilter(), before=second.older, per_page=50)
    assert _seqs(last) == list(range(20, 0, -1)) and (last.newer, last.older) == (20, None)
    back = log_page(session, ADMIN, LogFilter(), after=last.newer, per_page=50)
    assert _seqs(back) == _seqs(second)
    oldest = log_page(session, ADMIN, LogFilter(), oldest=True, per_page=50)
    assert _seqs(oldest) == list(range(50, 0, -1)) and oldest.older is None and oldest.newer == 50
    exact = log_page(session, ADMIN, LogFilter(), before=41, per_page=40)  # a page that ends exactly at seq 1
    assert _seqs(exact) == list(range(40, 0, -1)) and exact.older is None
    assert log_page(session, ADMIN, LogFilter(), before=1).events == []
    assert log_page(session, ADMIN, LogFilter(), after=120).events == []


def test_filtered_pages_follow_the_filter_to_its_ends(session: Session) -> None:
    where = LogFilter(department="D1")  # every third event: 40 of them
    first = log_page(session, ADMIN, where, per_page=20)
    assert _seqs(first) == list(range(120, 60, -3)) and first.total == 40
    rest = log_page(session, ADMIN, where, before=first.older, per_page=20)
    assert _seqs(rest) == list(range(60, 0, -3)) and rest.older is None
    mine = Viewer("department", "D2", "D2", ("D2",))  # a department never sees another's events
    assert log_page(session, mine, where).events == []


def test_case_number_and_subject_search(session: Session) -> None:
    assert _seqs(log_page(session, ADMIN, LogFilter(case_number="YY-0077"))) == [77]
    assert _seqs(log_page(session, ADMIN, LogFilter(subject=ID.upper()))) == [42]  # x and X are one ID
    assert _seqs(log_page(session, ADMIN, LogFilter(subject=f"  {ID} "))) == [42]
    assert log_page(session, ADMIN, LogFilter(subject="430902199001011230")).events == []


def test_every_monitor_filter_has_a_seq_index(session: Session) -> None:
    plan = session.execute(
        sa.text("EXPLAIN QUERY PLAN SELECT seq FROM exchange_event WHERE case_number = 'x' ORDER BY seq DESC LIMIT 50")
    ).all()
    assert "ix_exchange_event_case_number_seq" in " ".join(str(r) for r in plan)
    indexes = {i["name"] for i in sa.inspect(session.get_bind()).get_indexes("exchange_event")}
    for column in ("type", "resource", "department", "client", "outcome", "case_number", "subject_hash", "target"):
        assert f"ix_exchange_event_{column}_seq" in indexes


def test_the_address_filter_finds_refusals_of_callers_without_a_key_by_index(session: Session) -> None:
    log = ExchangeLog(session)
    for target, department in (("address:10.0.0.7", None), ("address:10.0.0.8", None), ("department:D1", "D1")):
        log.append(
            "denial", source="hub", target=target, department=department, outcome="denied", details={"address": "x"}
        )
    session.commit()
    found = log_page(session, ADMIN, LogFilter(address=" 10.0.0.7 "))
    assert [e.target for e in found.events] == ["address:10.0.0.7"] and found.total == 1
    assert log_page(session, ADMIN, LogFilter(address="10.0.0.9")).events == []
    assert log_page(session, Viewer("department", "D1", "D1", ("D1",)), LogFilter(address="10.0.0.7")).events == []
    query = (
        select(ExchangeEvent.seq).where(ExchangeEvent.target == "address:10.0.0.7").order_by(ExchangeEvent.seq.desc())
    )
    compiled = query.limit(50).compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = " ".join(str(r) for r in session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")).all())
    assert "ix_exchange_event_target_seq" in plan
