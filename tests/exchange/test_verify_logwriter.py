"""The group-commit log writer: batching, durability modes, failures reach every waiter."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from exchange.log import ExchangeLog
from exchange.verify import LogWriter
from tests.exchange.verify_support import make_engine

EVENT = {"type": "verification", "source": "hub", "target": "client:t", "client": "t", "outcome": "ok"}


def test_concurrent_writers_share_commits_and_the_chain_stays_valid(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "hub.db")
    writer = LogWriter(engine)
    threads = [threading.Thread(target=lambda: [writer.write([EVENT]) for _ in range(25)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    xlog = ExchangeLog(engine)
    assert xlog.count() == 200 == writer.events
    assert writer.batches < 200  # some commits carried several requests' events
    assert xlog.verify().ok
    assert (tmp_path / "hub.db.log.lock").exists()  # writers of several processes queue on this flock


def test_queued_durability_returns_at_once_and_close_flushes(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "hub.db")
    writer = LogWriter(engine, durability="queued")
    for _ in range(50):
        writer.write([EVENT])
    writer.close()
    assert ExchangeLog(engine).count() == 50


def test_a_failed_commit_reaches_the_waiter(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "hub.db")
    writer = LogWriter(engine)
    with pytest.raises(Exception, match="type"):
        writer.write([{"source": "hub", "target": "x"}])  # no event type: the log refuses it
    writer.write([EVENT])  # the writer thread survives
    writer.close()
    assert ExchangeLog(engine).count() == 1
