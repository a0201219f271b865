"""Log padding: nobody without a key can grow the exchange log, nor leave its tail unsigned.

Requests without a valid key (no key, forged keys, on the catalogue, the monitor API and the
verification API) from one address are answered 401 up to the limit, then 429; the log gains one
aggregated denial event per address and window whose `rows` is the count. Events appended without the
hub key (refusals, API pulls) cross checkpoint boundaries unsigned: the checkpointer signs every
boundary after checking the chain up to it, and `verify` reports the unsigned tail.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.crypto import load_or_create_signer
from exchange.log import ExchangeEvent, ExchangeLog, catch_up_checkpoints
from govhub.db import get_engine, migrate
from govhub.settings import reset_settings
from tests.reliability.ledger import record, scaled
from web import create_app

LIMIT = 30


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("GOVHUB_REFUSAL_LIMIT", str(LIMIT))
    monkeypatch.setenv("GOVHUB_REFUSAL_WINDOW_SECONDS", "3600")  # one window however slow the machine
    monkeypatch.setenv("GOVHUB_LOG_MAINTENANCE_SECONDS", "0")
    reset_settings()
    migrate()
    yield tmp_path / "hub"
    get_engine().dispose()
    reset_settings()


def _count() -> int:
    with Session(get_engine()) as session:
        return int(session.scalar(select(func.count()).select_from(ExchangeEvent)) or 0)


def test_refusals_without_a_key_are_aggregated_and_rate_limited(home: Path) -> None:
    sent = scaled(502, 5000)
    targets = [
        ("GET", "/api/catalog/resources", {"X-API-Key": "gh.11430900MB0000001.forged"}),
        ("GET", "/api/subscriptions", {}),
        ("GET", "/monitor/api/overview", {"X-API-Key": "not-a-key"}),
        ("POST", "/api/verify/person_alive", {"X-Client-Key": "nobody.forged"}),
        ("POST", "/api/verify/person_alive", {}),
    ]
    before = _count()
    statuses: Counter[int] = Counter()
    with TestClient(create_app()) as client:
        for n in range(sent):
            method, path, headers = targets[n % len(targets)]
            body = {"case_number": "YY-1", "purpose": "p", "subject": {"id_number": "x"}} if method == "POST" else None
            statuses[client.request(method, path, headers=headers, json=body).status_code] += 1
        during = _count() - before
    added = _count() - before  # the lifespan's shutdown wrote the open window
    with Session(get_engine()) as session:
        events = list(session.scalars(select(ExchangeEvent).where(ExchangeEvent.seq > before)))
    held = int(statuses[401] == LIMIT and statuses[429] == sent - LIMIT and added == 1 and during == 0)
    record(
        "attacks",
        "log padding: requests without a key",
        tried=sent,
        held=sent if held else 0,
        events_added=added,
        statuses=dict(statuses),
        limit=LIMIT,
    )
    assert statuses == Counter({401: LIMIT, 429: sent - LIMIT})
    assert during == 0 and added == 1, "one aggregated event per address and window"
    (event,) = events
    assert (event.type, event.outcome, event.rows, event.target) == ("denial", "denied", sent, "address:testclient")
    assert event.details["count"] == sent and event.details["over_limit"] == sent - LIMIT
    assert set(event.details["codes"]) <= {"unauthenticated", "invalid_key", "missing_key"}
    assert ExchangeLog(get_engine()).verify().ok


def test_events_appended_without_the_key_get_their_checkpoints_signed(home: Path) -> None:
    engine = get_engine()
    unsigned = ExchangeLog(engine)  # what refusals and API pulls append with: no key
    appended = scaled(2500, 25_000)
    for _start in range(0, appended, 500):
        unsigned.append_many([{"type": "denial", "source": "hub", "target": "x", "outcome": "denied"}] * 500)
    signer = load_or_create_signer(home / "keys")
    keyed = ExchangeLog(engine, signer=signer, checkpoint_every=1000)
    assert keyed.verify().unsigned_tail == appended
    report, signed = catch_up_checkpoints(keyed)
    assert report.ok and signed == appended // 1000
    assert [cp.seq for cp in keyed.checkpoints()] == [1000 * n for n in range(1, appended // 1000 + 1)]
    tail = keyed.verify().unsigned_tail
    assert tail == appended % 1000 < keyed.checkpoint_every
    # what is tried is every checkpoint boundary crossed without the key; a tail shorter than one
    # interval is not a boundary yet, so it counts for nothing
    boundaries = appended // keyed.checkpoint_every
    record(
        "attacks",
        "log padding: boundaries crossed without the key",
        tried=boundaries,
        held=signed,
        events_appended=appended,
        unsigned_tail=tail,
    )


def test_nothing_is_signed_over_an_edited_event(home: Path) -> None:
    engine = get_engine()
    ExchangeLog(engine).append_many([{"type": "denial", "source": "hub", "target": "x", "outcome": "denied"}] * 1200)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE exchange_event SET target = 'forged' WHERE seq = 700")
    keyed = ExchangeLog(engine, signer=load_or_create_signer(home / "keys"), checkpoint_every=1000)
    report, signed = catch_up_checkpoints(keyed)
    assert (report.ok, report.problem, report.first_bad_seq, signed) == (False, "changed", 700, 0)
    assert keyed.checkpoints() == []
