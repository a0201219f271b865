"""The verification service: every item's yes and no, refusals, seals, versions, rate limit, batch, logging."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.crypto import sm3_hex
from exchange.log import ExchangeEvent, ExchangeLog
from exchange.seal import verify_sealed
from exchange.subjects import subject_hashes
from exchange.verify import ServingStore, VerificationService, build_request, refresh_serving_store, subject_hash
from exchange.verify.clients import check_key, hash_key
from schemas import load_contract
from tests.exchange.verify_support import (
    E_REVOKED,
    E_SHOP,
    E_UNKNOWN,
    FEE_ITEM,
    P_LI,
    P_UNKNOWN,
    P_WANG,
    P_ZHANG,
    P_ZHAO,
    PAY_OK,
    PAY_REFUNDED,
    PERMIT_NO,
    PERSONS,
    ServedHub,
    body,
    build_hub,
    commit_tables,
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    served = build_hub(tmp_path_factory.mktemp("verify-hub"))
    yield served
    served.service.writer.close()


def ask(hub: ServedHub, item: str, subject: Any, params: Any = None, *, client: str = "all", **kw: Any) -> tuple:
    return hub.service.ask(item, client_key=hub.keys[client], body=body(subject, params), **kw)


def events(hub: ServedHub, **where: Any) -> list[ExchangeEvent]:
    return ExchangeLog(hub.engine).query(limit=1000, **where)


# (item, subject, params, expected match)
CASES = [
    ("identity_matches", {"id_number": P_ZHANG, "name": "张三"}, None, True),
    ("identity_matches", {"id_number": P_ZHANG, "name": "李四"}, None, False),
    ("identity_matches", {"id_number": P_UNKNOWN, "name": "张三"}, None, False),
    ("household_in_district", {"id_number": P_ZHANG}, {"region_code": "430900"}, True),
    ("household_in_district", {"id_number": P_ZHANG}, {"region_code": "430902"}, True),
    ("household_in_district", {"id_number": P_ZHANG}, {"region_code": "430903"}, False),
    ("household_in_district", {"id_number": P_ZHAO}, {"region_code": "430900"}, False),  # moved out
    ("person_alive", {"id_number": P_ZHAO}, None, True),
    ("person_alive", {"id_number": P_WANG}, None, False),
    ("person_alive", {"id_number": P_UNKNOWN}, None, False),
    ("age_at_least", {"id_number": P_ZHANG}, {"years": 18}, True),
    ("age_at_least", {"id_number": P_LI}, {"years": 16}, False),  # 16 on 2026-05-02, asked 2026-05-01
    ("age_at_least", {"id_number": P_LI}, {"years": 16, "on": "2026-05-02"}, True),
    ("same_household", {"id_number": P_ZHANG}, {"other_id_number": P_LI}, True),
    ("same_household", {"id_number": P_ZHANG}, {"other_id_number": P_ZHAO}, False),  # ZHAO moved out
    ("same_household", {"id_number": P_ZHANG}, {"other_id_number": P_ZHANG}, False),
    ("entity_in_business", {"uscc": E_SHOP}, None, True),
    ("entity_in_business", {"uscc": E_REVOKED}, None, False),
    ("entity_in_business", {"uscc": E_UNKNOWN}, None, False),
    ("legal_rep_matches", {"uscc": E_SHOP, "legal_rep_id": P_ZHANG, "legal_rep_name": "张三"}, None, True),
    ("legal_rep_matches", {"uscc": E_SHOP, "legal_rep_id": P_LI, "legal_rep_name": "张三"}, None, False),
    ("entity_in_district", {"uscc": E_SHOP}, {"region_code": "430900"}, True),
    ("entity_in_district", {"uscc": E_REVOKED}, {"region_code": "430900"}, False),  # revoked
    ("no_blacklist", {"subject_code": E_SHOP}, None, True),  # its black listing expired in 2019
    ("no_blacklist", {"subject_code": E_REVOKED}, None, False),
    ("no_blacklist", {"subject_code": P_WANG}, None, False),  # a natural person, by citizen ID
    ("no_blacklist", {"subject_code": E_SHOP}, {"on": "2019-06-01"}, False),
    ("no_penalty_since", {"subject_code": E_SHOP}, {"years": 3}, False),  # penalty 2023-06-01
    ("no_penalty_since", {"subject_code": E_SHOP}, {"years": 2}, True),
    ("permit_valid_on", {"subject_code": E_SHOP}, {"document_number": PERMIT_NO}, True),
    ("permit_valid_on", {"subject_code": E_SHOP}, {"document_number": PERMIT_NO, "on": "2026-07-01"}, False),
    ("permit_valid_on", {"subject_code": E_REVOKED}, {"document_number": PERMIT_NO}, False),
    ("payment_paid", {"payment_code": PAY_OK}, {"amount": "120.00"}, True),
    ("payment_paid", {"payment_code": PAY_OK}, {"amount": "120"}, True),
    ("payment_paid", {"payment_code": PAY_OK}, {"amount": "120.01"}, False),
    ("payment_paid", {"payment_code": PAY_REFUNDED}, {"amount": "80.00"}, False),
    ("receipt_valid", {"receipt_code": "43000026", "receipt_number": "0000000001"}, None, True),
    ("receipt_valid", {"receipt_code": "43000026", "receipt_number": "0000000002"}, None, False),  # refunded
    ("receipt_valid", {"receipt_code": "43000026", "receipt_number": "0000000009"}, None, False),
    ("fee_item_paid", {"payer_id": P_ZHANG}, {"item_code": FEE_ITEM, "since": "2026-01-01"}, True),
    ("fee_item_paid", {"payer_id": P_ZHANG}, {"item_code": FEE_ITEM, "since": "2026-03-02"}, False),
    ("fee_item_paid", {"payer_id": P_ZHAO}, {"item_code": FEE_ITEM, "since": "2026-01-01"}, False),  # refunded
]


@pytest.mark.parametrize(
    ("item", "subject", "params", "expected"), [pytest.param(*c, id=f"{c[0]}-{i}") for i, c in enumerate(CASES)]
)
def test_every_item_says_yes_and_no(hub: ServedHub, item: str, subject: dict, params: Any, expected: bool) -> None:
    status, doc = ask(hub, item, subject, params)
    assert status == 200, doc
    assert doc["answer"]["match"] is expected
    assert set(doc["answer"]) == {"answer_id", "case_number", "match"}  # nothing else is disclosed


def test_every_item_has_a_yes_and_a_no_case(hub: ServedHub) -> None:
    covered = {(c[0], c[3]) for c in CASES} | {("entity_basic_info", True), ("entity_basic_info", False)}
    assert covered == {(code, v) for code in hub.service.items for v in (True, False)}


def test_value_item_returns_only_its_fields_and_unknown_is_404(hub: ServedHub) -> None:
    status, doc = ask(hub, "entity_basic_info", {"uscc": E_SHOP})
    assert status == 200
    assert doc["answer"] == {
        "answer_id": doc["answer"]["answer_id"],
        "case_number": "YY-BDC-2026-000123",
        "name": "益阳市资阳区张三商行",
        "status": "存续",
        "established_date": "2015-03-01",
    }
    status, doc = ask(hub, "entity_basic_info", {"uscc": E_UNKNOWN})
    assert status == 404 and doc["error"]["code"] == "subject_not_found"
    assert E_UNKNOWN not in json.dumps(doc)


def test_answers_are_sealed_bound_to_the_request_and_name_the_version(hub: ServedHub) -> None:
    subject = {"id_number": P_ZHANG, "name": "张三"}
    _, doc = ask(hub, "identity_matches", subject)
    pem = hub.signer.public_key_pem()
    request = build_request("identity_matches", body(subject))
    assert verify_sealed(doc, public_key_pem=pem, request=request).ok
    assert (
        doc["version"]
        == ServingStore(hub.home).version("person")
        == hub.lake.curated(load_contract("person")).version()
    )
    other = build_request("identity_matches", body({"id_number": P_LI, "name": "张三"}))
    assert verify_sealed(doc, public_key_pem=pem, request=other).reason == "request_hash"


@pytest.mark.parametrize(
    ("path", "value"),
    [(("answer", "match"), False), (("version",), 99), (("item",), "person_alive"), (("answer", "case_number"), "X")],
)
def test_tampering_breaks_the_seal(hub: ServedHub, path: tuple[str, ...], value: Any) -> None:
    _, doc = ask(hub, "identity_matches", {"id_number": P_ZHANG, "name": "张三"})
    forged = copy.deepcopy(doc)
    target = forged
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    result = verify_sealed(forged, public_key_pem=hub.signer.public_key_pem())
    assert not result.ok and result.reason == "signature"


REFUSALS = [
    pytest.param(
        None, "identity_matches", body({"id_number": P_ZHANG, "name": "张三"}), 401, "missing_key", id="no-key"
    ),
    pytest.param(
        "all.wrong", "identity_matches", body({"id_number": P_ZHANG, "name": "张三"}), 401, "invalid_key", id="bad-key"
    ),
    pytest.param("narrow", "person_alive", body({"id_number": P_ZHANG}), 403, "item_not_granted", id="not-granted"),
    pytest.param("all", "shoe_size", body({"id_number": P_ZHANG}), 404, "unknown_item", id="unknown-item"),
    pytest.param(
        "all", "person_alive", {"purpose": "p", "subject": {"id_number": P_ZHANG}}, 422, "missing_field", id="no-case"
    ),
    pytest.param(
        "all",
        "person_alive",
        {"case_number": "c", "subject": {"id_number": P_ZHANG}},
        422,
        "missing_field",
        id="no-purpose",
    ),
    pytest.param(
        "all",
        "person_alive",
        body({"id_number": P_ZHANG[:-1] + ("0" if P_ZHANG[-1] != "0" else "1")}),
        422,
        "invalid_check_digit",
        id="check-digit",
    ),
    pytest.param(
        "all",
        "entity_in_business",
        body({"uscc": E_SHOP[:-1] + ("0" if E_SHOP[-1] != "0" else "1")}),
        422,
        "invalid_check_digit",
        id="uscc-check",
    ),
    pytest.param("all", "person_alive", body({"id_number": "1" * 500}), 422, "too_large", id="oversized"),
    pytest.param(
        "all", "person_alive", body({"id_number": P_ZHANG, "name": "x"}), 422, "malformed_subject", id="extra-field"
    ),
    pytest.param("all", "person_alive", body([P_ZHANG]), 422, "malformed_subject", id="subject-not-object"),
    pytest.param("all", "person_alive", body({"id_number": 430902}), 422, "invalid_request", id="subject-not-string"),
    pytest.param("all", "age_at_least", body({"id_number": P_ZHANG}), 422, "missing_field", id="missing-param"),
    pytest.param(
        "all",
        "age_at_least",
        body({"id_number": P_ZHANG}, {"years": 18, "x": 1}),
        422,
        "invalid_request",
        id="unknown-param",
    ),
    pytest.param(
        "all",
        "household_in_district",
        body({"id_number": P_ZHANG}, {"region_code": "999999"}),
        422,
        "invalid_request",
        id="bad-region",
    ),
    pytest.param("all", "person_alive", b"{not json", 422, "malformed_json", id="not-json"),
]


@pytest.mark.parametrize(("client", "item", "request_body", "status", "code"), REFUSALS)
def test_refusals_are_typed_logged_and_leak_nothing(
    hub: ServedHub, client: str | None, item: str, request_body: Any, status: int, code: str
) -> None:
    key = hub.keys.get(client, client) if client else None
    before = ExchangeLog(hub.engine).count()
    got, doc = hub.service.ask(item, client_key=key, body=request_body)
    assert (got, doc["error"]["code"]) == (status, code)
    assert doc["error"]["message_zh"]
    if "field" in doc["error"]:  # the Chinese message names the member at fault, as the English one does
        assert doc["error"]["message_zh"].count("：") == 1 and not doc["error"]["message_zh"].endswith("：")
    assert "张三" not in json.dumps(doc, ensure_ascii=False)  # no stored data in errors
    [event] = events(hub)[:1]
    assert ExchangeLog(hub.engine).count() == before + 1
    assert event.type == ("denial" if status in (401, 403) else "verification")
    assert event.outcome == ("denied" if status in (401, 403) else "invalid" if status == 422 else "failed")
    assert event.error_code == code and event.details["item"] == item
    assert P_ZHANG not in json.dumps([event.subject_hash, event.details, event.case_number, event.purpose])


def test_answered_event_carries_client_case_purpose_and_subject_hash_never_the_id(hub: ServedHub) -> None:
    subject = {"id_number": P_ZHANG, "name": "张三"}
    _, doc = ask(hub, "identity_matches", subject)
    event = events(hub, type="verification", outcome="ok")[0]
    assert event.client == "all" and event.target == "client:all"
    assert event.case_number == "YY-BDC-2026-000123" and event.purpose == "不动产登记（转移登记）"
    canonical = json.dumps(subject, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    item = hub.service.items["identity_matches"]
    keyed = subject_hash(subject, item, keys=hub.service.subject_keys)
    assert event.subject_hash == keyed and keyed.startswith(f"hs1:{hub.service.subject_keys.key_id}:")
    assert event.subject_hash[-64:] not in {sm3_hex(canonical), sm3_hex(P_ZHANG.encode())}  # keyed, not guessable
    assert event.subject_hash in subject_hashes(P_ZHANG, keys=hub.service.subject_keys)  # found by the ID alone
    assert event.request_id == doc["answer"]["answer_id"] and event.version == doc["version"]
    assert event.resource == "person"
    assert ExchangeLog(hub.engine).verify().ok


def test_unknown_subject_reveals_nothing_it_is_a_sealed_false(hub: ServedHub) -> None:
    unknown = ask(hub, "identity_matches", {"id_number": P_UNKNOWN, "name": "张三"})
    wrong_name = ask(hub, "identity_matches", {"id_number": P_ZHANG, "name": "查无此人"})
    assert unknown[0] == wrong_name[0] == 200
    assert unknown[1]["answer"]["match"] is wrong_name[1]["answer"]["match"] is False


def test_rate_limit_per_client(hub: ServedHub) -> None:
    statuses = [
        hub.service.ask("person_alive", client_key=hub.keys["slow"], body=body({"id_number": P_ZHANG}))[0]
        for _ in range(5)
    ]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    assert events(hub, client="slow", outcome="denied")[0].error_code == "rate_limited"
    assert ask(hub, "person_alive", {"id_number": P_ZHANG})[0] == 200  # other clients are unaffected


def test_batch_answers_many_subjects_under_one_seal_and_logs_each(hub: ServedHub) -> None:
    subjects = [{"id_number": p["id_number"]} for p in PERSONS] + [{"id_number": P_UNKNOWN}]
    request_body = {"case_number": "YY-PL-1", "purpose": "养老金资格认证", "subjects": subjects}
    before = ExchangeLog(hub.engine).count()
    status, doc = hub.service.ask("person_alive", client_key=hub.keys["all"], body=request_body, batch=True)
    assert status == 200
    assert [r["match"] for r in doc["answer"]["results"]] == [True, True, False, True, False]
    pem = hub.signer.public_key_pem()
    assert verify_sealed(doc, public_key_pem=pem, request=build_request("person_alive", request_body, batch=True)).ok
    logged = events(hub)[: len(subjects)]
    assert ExchangeLog(hub.engine).count() == before + len(subjects)
    item = hub.service.items["person_alive"]
    assert {e.subject_hash for e in logged} == {subject_hash(s, item, keys=hub.service.subject_keys) for s in subjects}
    too_many = {**request_body, "subjects": subjects * 21}
    status, doc = hub.service.ask("person_alive", client_key=hub.keys["all"], body=too_many, batch=True)
    assert (status, doc["error"]["code"]) == (422, "too_large")
    bad = {**request_body, "subjects": [*subjects[:2], {"id_number": "123"}]}
    status, doc = hub.service.ask("person_alive", client_key=hub.keys["all"], body=bad, batch=True)
    assert (status, doc["error"]["field"]) == (422, "subjects[2].id_number")


def test_batch_of_a_value_item_marks_unknown_subjects_not_found(hub: ServedHub) -> None:
    request_body = {"case_number": "c", "purpose": "p", "subjects": [{"uscc": E_SHOP}, {"uscc": E_UNKNOWN}]}
    status, doc = hub.service.ask("entity_basic_info", client_key=hub.keys["all"], body=request_body, batch=True)
    assert status == 200
    assert doc["answer"]["results"][0]["status"] == "存续" and doc["answer"]["results"][1] == {"found": False}


def test_issued_answers_are_kept_for_the_counter(hub: ServedHub) -> None:
    _, doc = ask(hub, "person_alive", {"id_number": P_ZHANG})
    assert hub.service.answer_document(doc["answer"]["answer_id"]) == doc
    assert hub.service.answer_document("no-such-answer") is None


def test_a_new_version_is_answered_from_the_swapped_store(hub: ServedHub) -> None:
    before = ask(hub, "person_alive", {"id_number": P_WANG})[1]
    commit_tables(hub.lake, {"person": [{**PERSONS[2], "status": "1", "name": "王五"}]}, run_seq=2)
    version = refresh_serving_store(hub.lake, load_contract("person"), home=hub.home)
    after = ask(hub, "person_alive", {"id_number": P_WANG})[1]
    assert (before["answer"]["match"], after["answer"]["match"]) == (False, True)
    assert after["version"] == version == before["version"] + 1


def test_log_failure_withholds_the_answer(hub: ServedHub, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(events: Any, answers: Any = ()) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(hub.service.writer, "write", broken)
    status, doc = ask(hub, "person_alive", {"id_number": P_ZHANG})
    assert (status, doc["error"]["code"]) == (503, "log_unavailable") and "answer" not in doc


def test_store_not_built_is_503(tmp_path: Path, hub: ServedHub) -> None:
    service = VerificationService(store=ServingStore(tmp_path), signer=hub.signer, engine=hub.engine)
    status, doc = service.ask("person_alive", client_key=hub.keys["all"], body=body({"id_number": P_ZHANG}))
    assert (status, doc["error"]["code"]) == (503, "store_unavailable")
    service.writer.close()


def test_keys_are_stored_hashed_and_checked_in_constant_time(hub: ServedHub) -> None:
    from exchange.verify import VerificationClient

    with Session(hub.engine) as session:
        stored = session.scalar(select(VerificationClient.key_hash).where(VerificationClient.id == "all"))
        assert session.scalar(select(func.count()).select_from(VerificationClient)) == 3
    assert hub.keys["all"] not in stored and stored.startswith("scrypt$")
    assert check_key(hub.keys["all"], stored) and not check_key(hub.keys["all"] + "x", stored)
    assert hash_key("k") != hash_key("k")  # salted


def test_a_missing_case_number_is_named_in_chinese(hub: ServedHub) -> None:
    key = hub.keys["all"]
    got, doc = hub.service.ask("person_alive", client_key=key, body={"purpose": "不动产登记", "subject": {}})
    assert got == 422 and doc["error"]["field"] == "case_number"
    assert doc["error"]["message_zh"] == "缺少必填项（办件编号、用途或参数）：办件编号"
