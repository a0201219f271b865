"""Deliveries on the migrated metadata store, SQLite and PostgreSQL: exactly once, also when run at once.

The end-to-end exactly-once tests of test_delivery.py run here again on a store built by the
Alembic chain (a PostgreSQL database per module; skips without a server), and two delivery runs
started together for the same resource and version must still deliver each subscription once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from test_delivery import (  # noqa: F401  (fixtures and the end-to-end tests, run here on each store)
    commit,
    lake,
    person,
    person_rows,
    pid,
    subscribe,
    test_a_repeated_file_delivery_overwrites_the_same_object,
    test_crash_between_target_write_and_hub_record_neither_doubles_nor_skips,
    test_file_mode_first_snapshot_then_only_the_change,
    test_revocation_takes_effect_on_the_next_delivery,
    test_unreachable_database_fails_clearly_and_is_retried,
)

import exchange.delivery.deliver as deliver_module
from exchange.delivery import Delivery
from exchange.log import ExchangeEvent, ExchangeLog
from govhub.db import engine_for
from lake import Lake
from schemas import Contract
from tests.service_db import MetadataStore, metadata_store, parametrize_stores  # noqa: F401

pytestmark = parametrize_stores()


@pytest.fixture
def session(store_url: str) -> Iterator[Session]:
    """A session on an empty store migrated through the Alembic chain (replaces test_delivery's create_all)."""
    with Session(engine_for(store_url), expire_on_commit=False) as s:
        yield s


def _deliver_at_once(runs: int = 2) -> tuple[list[dict], list[BaseException]]:
    """`run_deliveries("person")` in `runs` threads released together; all results and all errors."""
    from govhub.delivery_runner import run_deliveries

    barrier = threading.Barrier(runs)
    results: list[dict] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            results.extend(run_deliveries("person"))
        except BaseException as e:  # the test reports whatever a run raised
            errors.append(e)

    threads = [threading.Thread(target=deliver) for _ in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def test_concurrent_delivery_runs_deliver_each_version_once(
    person: Contract,  # noqa: F811  (test_delivery's fixture)
    session: Session,
    hub_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub_lake = Lake(str(hub_home / "lake"))
    file_sub = subscribe(session)
    db_sub = subscribe(
        session, department="11430900MB0000002X", mode="database", target_url=f"sqlite:///{tmp_path / 'dept.db'}"
    )
    api_sub = subscribe(session, department="11430900MB0000003X", mode="api")
    subs = {file_sub.id, db_sub.id, api_sub.id}
    writes: list[str] = []
    real_write_file, real_write_database = deliver_module.write_file, deliver_module.write_database

    def slow_file(*args, **kwargs):  # type: ignore[no-untyped-def]  # widen the window a second run could use
        writes.append("file")
        time.sleep(0.3)
        return real_write_file(*args, **kwargs)

    def slow_database(*args, **kwargs):  # type: ignore[no-untyped-def]
        writes.append("database")
        time.sleep(0.3)
        return real_write_database(*args, **kwargs)

    monkeypatch.setattr(deliver_module, "write_file", slow_file)
    monkeypatch.setattr(deliver_module, "write_database", slow_database)

    versions = []
    for seq, keys in enumerate([[pid(1), pid(2)], [pid(3)]], start=1):
        versions.append(commit(hub_lake, person, person_rows(person, keys, tag=f"v{seq}"), seq))
        writes.clear()
        results, errors = _deliver_at_once()
        assert errors == [], errors
        done = sorted((r["subscription_id"], r["to_version"]) for r in results if r["status"] == "done")
        assert done == sorted((s, versions[-1]) for s in subs), results
        assert sorted(writes) == ["database", "file"]  # each target written once

    session.expire_all()
    rows = session.scalars(sa.select(Delivery).order_by(Delivery.subscription_id, Delivery.to_version)).all()
    assert [(r.subscription_id, r.to_version, r.status, r.attempts) for r in rows] == [
        (s, v, "done", 1) for s in sorted(subs) for v in versions
    ]
    events = session.scalars(sa.select(ExchangeEvent).where(ExchangeEvent.type == "delivery")).all()
    delivered = sorted((e.details["subscription_id"], e.version) for e in events if e.outcome == "ok")
    assert delivered == [(s, v) for s in sorted(subs) for v in versions]
    assert ExchangeLog(session).verify().ok
