"""The exchange log on a PostgreSQL metadata store migrated by the Alembic chain (skips without a server).

The append, tamper-detection and archive tests run again here, unchanged, with `engine` pointed at
a PostgreSQL database (one per module, emptied per test); their SQLite runs are in their own
modules, and test_log_concurrency.py already races writers on both stores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import test_log_append
import test_log_archive
import test_log_archive_walk
import test_log_verify
from log_support import event_kwargs

from exchange.log import ExchangeLog
from govhub.db import engine_for
from tests.service_db import MetadataStore, metadata_store, parametrize_stores  # noqa: F401

pytestmark = parametrize_stores(("postgresql",))

# the same tests and the xlog fixture (signer: conftest.py), collected again in this module with the engine below
_SKIP = {"test_fast_canonical_path_gives_the_jcs_bytes"}  # pure function, no store (a hypothesis test)
for _module in (test_log_append, test_log_verify, test_log_archive, test_log_archive_walk):
    globals().update(
        {n: f for n, f in vars(_module).items() if n.startswith("test_") and callable(f) and n not in _SKIP}
    )
xlog = test_log_verify.xlog
exact_calls = test_log_archive_walk.exact_calls


@pytest.fixture
def engine(metadata_store: MetadataStore, tmp_path: Path) -> Iterator[sa.Engine]:  # noqa: F811
    """An empty PostgreSQL store with every hub table (the SQLite modules create theirs directly)."""
    yield engine_for(metadata_store.fresh_url(tmp_path))


def test_store_is_postgresql_and_the_chain_survives_a_reconnect(engine: sa.Engine) -> None:
    assert engine.dialect.name == "postgresql"
    ExchangeLog(engine).append_many([event_kwargs(i) for i in range(5)])
    engine.dispose()  # a new connection reads back exactly what was hashed (timestamps, JSON, decimals)
    report = ExchangeLog(engine).verify()
    assert report.ok and report.events_checked == 5, report.detail


def test_rewriting_and_rehashing_the_chain_is_caught_by_a_checkpoint(engine: sa.Engine, signer) -> None:  # type: ignore[no-untyped-def]
    """test_log_verify's forger, reading PostgreSQL's native types (timestamps as datetimes; details, kept as its
    canonical text, parsed back as the hub reads it)."""
    from exchange.log import format_report
    from exchange.log._hashing import event_hash

    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=10)
    xlog.append_many([event_kwargs(i) for i in range(10)])
    xlog.append_many([event_kwargs(i) for i in range(10, 20)])
    assert [cp.seq for cp in xlog.checkpoints()] == [10, 20]
    prev = test_log_verify._row(engine, 3)["hash"]
    for seq in range(4, 21):  # change seq 4, then recompute every later hash and link
        row = test_log_verify._row(engine, seq)
        if isinstance(row["details"], str):
            row["details"] = json.loads(row["details"])
        row.update(prev_hash=prev, rows=0 if seq == 4 else row["rows"])
        prev = event_hash(row)
        test_log_verify.sql(
            engine,
            "UPDATE exchange_event SET rows = :r, prev_hash = :p, hash = :h WHERE seq = :s",
            r=row["rows"],
            p=row["prev_hash"],
            h=prev,
            s=seq,
        )
    test_log_verify.sql(engine, "UPDATE exchange_log_head SET hash = :h", h=prev)
    report = xlog.verify()
    assert (report.problem, report.first_bad_seq) == ("checkpoint_mismatch", 10)
    assert "rewritten and re-hashed" in format_report(report)
