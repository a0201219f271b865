"""The delivery lock keeps two runs of one resource apart, or refuses a store it cannot lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.errors import StateError
from exchange.delivery.lock import delivery_lock


def _overlaps(url: str) -> bool:
    """Whether two threads holding the lock of one resource ever overlapped."""
    engine = sa.create_engine(url)
    inside, overlapped = [0], [False]
    guard = threading.Lock()

    def run() -> None:
        with Session(engine) as session, delivery_lock(session, "person"):
            with guard:
                inside[0] += 1
                overlapped[0] |= inside[0] > 1
            time.sleep(0.05)
            with guard:
                inside[0] -= 1

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    engine.dispose()
    return overlapped[0]


@pytest.mark.parametrize("where", ["file", "memory"])
def test_runs_of_one_resource_never_overlap_on_sqlite(tmp_path: Path, where: str) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}" if where == "file" else "sqlite://"
    assert not _overlaps(url)


def test_a_store_it_cannot_lock_is_refused_not_delivered_unguarded() -> None:
    engine = sa.create_engine("mysql+pymysql://govhub@127.0.0.1:1/i19_never_connected")
    with (
        Session(engine) as session,
        pytest.raises(StateError, match="mysql metadata store"),
        delivery_lock(session, "person"),
    ):
        pytest.fail("delivered without a lock")
