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


def _prepared(signer, n: int) -> list[dict]:  # type: ignore[no-untyped-def]
    from exchange.seal import prepare_answer

    return [
        {
            "answer_id": f"00000000-0000-0000-0000-{i:012d}",
            "client_id": "t",
            "item": "person_alive",
            "case_number": f"YY-{i}",
            "version": 1,
            "issued_at": "2026-05-01T08:00:00.000Z",
            "document": prepare_answer(
                request={"case_number": f"YY-{i}"},
                answer={"match": True},
                item="person_alive",
                version=1,
                algorithm=signer.algorithm,
            ),
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("durability", ["commit", "queued"])
def test_answers_come_back_sealed_in_either_durability_and_are_stored_as_sealed(
    tmp_path: Path, durability: str
) -> None:
    import json

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from exchange.crypto import load_or_create_signer
    from exchange.seal import verify_sealed
    from exchange.verify.clients import VerificationAnswerRecord

    engine = make_engine(tmp_path / "hub.db")
    signer = load_or_create_signer(tmp_path / "keys", algorithm="ed25519")
    writer = LogWriter(engine, signer=signer, durability=durability)  # type: ignore[arg-type]
    answers = _prepared(signer, 5)
    writer.write([EVENT] * 5, answers, signer=signer)
    assert all(verify_sealed(a["document"], public_key_pem=signer.public_key_pem()).ok for a in answers)
    assert {a["document"]["seal"]["tree_size"] for a in answers} == {5}  # one request's answers: one tree
    writer.close()
    with Session(engine) as session:
        stored = {r.answer_id: json.loads(r.document) for r in session.scalars(select(VerificationAnswerRecord))}
    assert stored == {a["answer_id"]: a["document"] for a in answers}
    with pytest.raises(ValueError, match="need the signer"):
        LogWriter(engine).write([EVENT], _prepared(signer, 1))


def test_a_failed_seal_reaches_the_waiter_and_nothing_is_logged(tmp_path: Path) -> None:
    from exchange.crypto import load_or_create_signer

    engine = make_engine(tmp_path / "hub.db")
    signer = load_or_create_signer(tmp_path / "keys", algorithm="ed25519")

    class Broken:
        algorithm, key_id = signer.algorithm, signer.key_id

        def sign(self, data: bytes) -> bytes:
            raise RuntimeError("the signing device is unplugged")

    writer = LogWriter(engine)
    with pytest.raises(RuntimeError, match="unplugged"):
        writer.write([EVENT], _prepared(signer, 1), signer=Broken())  # type: ignore[arg-type]
    writer.close()
    assert ExchangeLog(engine).count() == 0  # an answer that could not be sealed is neither returned nor logged
