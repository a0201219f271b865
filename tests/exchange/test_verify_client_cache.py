"""Client keys: a burst of requests with one key runs one scrypt check, and the result is remembered."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import exchange.verify.clients as clients
from catalog import Base
from exchange.verify.clients import ClientRegistry, register_client


@pytest.fixture
def registry_and_key(tmp_path: Path) -> tuple[ClientRegistry, str]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        _, key = register_client(session, client_id="bdc", name="不动产登记", allowed_items=["person.exists"])
    return ClientRegistry(engine), key


def test_a_burst_with_one_key_checks_it_once(registry_and_key, monkeypatch: pytest.MonkeyPatch) -> None:
    registry, key = registry_and_key
    calls = []
    original = clients.check_key

    def counting(*args: object) -> bool:
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(clients, "check_key", counting)
    start = threading.Barrier(8)
    answers: list[object] = []

    def ask() -> None:
        start.wait()
        answers.append(registry.authenticate(key))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.id for a in answers] == ["bdc"] * 8  # type: ignore[union-attr]
    assert len(calls) == 1


def test_wrong_keys_are_refused_and_not_remembered(registry_and_key) -> None:
    registry, key = registry_and_key
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert registry.authenticate(forged) is None
    assert registry.authenticate(forged) is None
    assert registry.authenticate(key) is not None
