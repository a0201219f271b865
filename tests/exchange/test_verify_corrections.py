"""Answers about a record under correction (校核纠错) say so inside the seal; the seal still checks offline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from catalog import CorrectionFlag
from exchange.seal import verify_sealed
from exchange.verify import build_request
from tests.exchange.verify_support import E_REVOKED, E_SHOP, P_LI, P_ZHANG, ServedHub, body, build_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    served = build_hub(tmp_path_factory.mktemp("verify-corrections"))
    yield served
    served.service.writer.close()


def _flag(hub: ServedHub, resource: str, key: str, field: str, status: str = "open") -> int:
    now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    with Session(hub.engine) as session:
        flag = CorrectionFlag(
            resource=resource,
            record_key=key,
            field=field,
            provider_code="11430900006012344E",
            reporter_kind="department",
            reporter="11430900006012408C",
            problem="值有误",
            evidence_text="证据",
            status=status,
            raised_at=now,
            due_at=now + dt.timedelta(days=14),
        )
        session.add(flag)
        session.commit()
        return flag.id


def _set_status(hub: ServedHub, flag_id: int, status: str) -> None:
    with Session(hub.engine) as session:
        session.execute(update(CorrectionFlag).where(CorrectionFlag.id == flag_id).values(status=status))
        session.commit()


def _ask(hub: ServedHub, item: str, subject: dict[str, Any]) -> dict[str, Any]:
    status, doc = hub.service.ask(item, client_key=hub.keys["all"], body=body(subject))
    assert status == 200, doc
    assert verify_sealed(
        doc, public_key_pem=hub.signer.public_key_pem(), request=build_request(item, body(subject))
    ).ok, "the marked answer must still verify offline"
    return doc


def test_an_answer_about_a_flagged_person_is_marked_inside_the_seal(hub: ServedHub) -> None:
    subject = {"id_number": P_ZHANG, "name": "张三"}
    assert "under_correction" not in _ask(hub, "identity_matches", subject)["answer"]
    flag_id = _flag(hub, "person", P_ZHANG, "name")
    doc = _ask(hub, "identity_matches", subject)
    assert doc["answer"]["under_correction"] is True and doc["answer"]["correction_flags"] == [flag_id]
    assert doc["answer"]["match"] is True
    forged = {**doc, "answer": {k: v for k, v in doc["answer"].items() if k != "under_correction"}}
    assert not verify_sealed(forged, public_key_pem=hub.signer.public_key_pem()).ok  # the mark is sealed
    other = _ask(hub, "person_alive", {"id_number": P_LI})
    assert "under_correction" not in other["answer"]  # another record of the same resource is unmarked
    _set_status(hub, flag_id, "confirmed")
    assert _ask(hub, "person_alive", {"id_number": P_ZHANG})["answer"]["correction_flags"] == [flag_id]
    _set_status(hub, flag_id, "closed")
    assert "under_correction" not in _ask(hub, "identity_matches", subject)["answer"]


def test_an_item_keyed_by_a_secondary_key_marks_the_records_it_reads(hub: ServedHub) -> None:
    flag_id = _flag(hub, "credit_record", "BLK000000000001", "valid_to")  # E_REVOKED's black-list record
    marked = _ask(hub, "no_blacklist", {"subject_code": E_REVOKED})
    assert marked["answer"]["correction_flags"] == [flag_id]
    assert "under_correction" not in _ask(hub, "no_blacklist", {"subject_code": E_SHOP})["answer"]
    _set_status(hub, flag_id, "rejected")
    assert "under_correction" not in _ask(hub, "no_blacklist", {"subject_code": E_REVOKED})["answer"]


def test_a_batch_marks_each_result_alone(hub: ServedHub) -> None:
    flag_id = _flag(hub, "person", P_LI, "status")
    subjects = [{"id_number": P_ZHANG}, {"id_number": P_LI}]
    request = {"case_number": "YY-2026-1", "purpose": "批量核验", "subjects": subjects}
    status, doc = hub.service.ask("person_alive", client_key=hub.keys["all"], body=request, batch=True)
    assert status == 200, doc
    first, second = doc["answer"]["results"]
    assert "under_correction" not in first and second["correction_flags"] == [flag_id]
    assert verify_sealed(doc, public_key_pem=hub.signer.public_key_pem()).ok
    _set_status(hub, flag_id, "closed")
