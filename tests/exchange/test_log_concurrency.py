"""Concurrent writers queue on the chain head instead of forking the chain."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from log_support import event_kwargs, postgres_available, postgres_engine, sqlite_engine
from sqlalchemy.orm import Session

from exchange.log import ExchangeLog

WRITERS, EACH = 4, 40


def _hammer(engine: sa.Engine, writer: int) -> list[int]:
    """Mix single appends, batches and session-bound appends, as the hub's stages do."""
    xlog = ExchangeLog(engine)
    seqs: list[int] = []
    for i in range(EACH):
        if i % 3 == 0:
            seqs += [e.seq for e in xlog.append_many([event_kwargs(i, client=f"w{writer}")] * 2)]
        elif i % 3 == 1:
            with Session(engine) as session:
                seqs.append(ExchangeLog(session).append(**event_kwargs(i, client=f"w{writer}")).seq)
                session.commit()
        else:
            seqs.append(xlog.append(**event_kwargs(i, client=f"w{writer}")).seq)
    return seqs


def _run(engine: sa.Engine, hammer: Callable[[sa.Engine, int], list[int]] = _hammer) -> None:
    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(lambda w: hammer(engine, w), range(WRITERS)))
    seqs = sorted(s for r in results for s in r)
    expected = WRITERS * (EACH + (EACH + 2) // 3)
    assert seqs == list(range(1, expected + 1))  # every seq handed out once, no gaps
    report = ExchangeLog(engine).verify()
    assert report.ok, report.detail
    assert report.events_checked == expected
    assert {e.client for e in ExchangeLog(engine).query(limit=1000)} == {f"w{w}" for w in range(WRITERS)}


def test_threads_on_sqlite_keep_the_chain_linear(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "hub.db")
    try:
        _run(engine)
    finally:
        engine.dispose()


@pytest.mark.services
@pytest.mark.skipif(not postgres_available(), reason="PostgreSQL does not answer on 127.0.0.1:5432 (user postgres)")
def test_threads_on_postgresql_keep_the_chain_linear() -> None:
    with postgres_engine() as engine:
        _run(engine)
