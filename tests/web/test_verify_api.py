"""The verification API over HTTP: sealed answers, typed errors, catalogue, key, counter and check pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from visible_text import identifiers

from exchange.seal import verify_sealed
from exchange.verify import build_request
from tests.exchange.verify_support import E_SHOP, P_LI, P_ZHANG, ServedHub, body, build_hub
from web.app import create_app
from web.routes.verify import get_verification_service


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    served = build_hub(tmp_path_factory.mktemp("verify-web"), algorithm="sm2")
    yield served
    served.service.writer.close()


@pytest.fixture(scope="module")
def client(hub: ServedHub) -> Iterator[TestClient]:
    app = create_app()
    app.dependency_overrides[get_verification_service] = lambda: hub.service
    with TestClient(app) as c:
        yield c


def post(client: TestClient, hub: ServedHub, item: str, payload: object, *, who: str | None = "all", path: str = ""):  # type: ignore[no-untyped-def]
    headers = {"X-Client-Key": hub.keys[who]} if who else {}
    return client.post(f"/api/verify/{item}{path}", headers=headers, json=payload)


def test_sealed_answer_over_http_checks_offline_with_the_published_key(client: TestClient, hub: ServedHub) -> None:
    request_body = body({"id_number": P_ZHANG, "name": "张三"})
    r = post(client, hub, "identity_matches", request_body)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    key = client.get("/api/verify/public-key").json()
    assert key["algorithm"] == "sm2" and key["key_id"] == doc["seal"]["key_id"]
    result = verify_sealed(
        r.content, public_key_pem=key["public_key_pem"], request=build_request("identity_matches", request_body)
    )
    assert result.ok and doc["answer"]["match"] is True and doc["version"] == 0


def test_catalogue_lists_items_with_what_they_replace(client: TestClient) -> None:
    data = client.get("/api/verify/items").json()
    assert data["count"] >= 12
    codes = {i["code"]: i for i in data["data"]}
    assert "户口簿复印件" in codes["household_in_district"]["replaces"]


@pytest.mark.parametrize(
    ("who", "item", "payload", "status", "code"),
    [
        pytest.param(
            None, "identity_matches", body({"id_number": P_ZHANG, "name": "张三"}), 401, "missing_key", id="401"
        ),
        pytest.param("narrow", "entity_in_business", body({"uscc": E_SHOP}), 403, "item_not_granted", id="403"),
        pytest.param(
            "all",
            "person_alive",
            {"purpose": "x", "subject": {"id_number": P_ZHANG}},
            422,
            "missing_field",
            id="422-case",
        ),
        pytest.param(
            "all",
            "person_alive",
            body({"id_number": P_ZHANG[:17] + ("1" if P_ZHANG[17] != "1" else "2")}),
            422,
            "invalid_check_digit",
            id="422-check",
        ),
        pytest.param("all", "no_such_item", body({}), 404, "unknown_item", id="404-item"),
    ],
)
def test_typed_errors(client: TestClient, hub: ServedHub, who, item, payload, status, code) -> None:  # type: ignore[no-untyped-def]
    r = post(client, hub, item, payload, who=who)
    assert r.status_code == status
    assert r.json()["code"] == code


def test_rate_limited_client_gets_429_with_retry_after(client: TestClient, hub: ServedHub) -> None:
    codes = [post(client, hub, "person_alive", body({"id_number": P_ZHANG}), who="slow").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = post(client, hub, "person_alive", body({"id_number": P_ZHANG}), who="slow")
    assert r.headers["retry-after"] == "60" and r.json()["code"] == "rate_limited"


def test_oversized_body_is_refused_without_reading_it(client: TestClient, hub: ServedHub) -> None:
    r = client.post(
        "/api/verify/person_alive", headers={"X-Client-Key": hub.keys["all"]}, content=b"{" + b" " * 1_100_000 + b"}"
    )
    assert (r.status_code, r.json()["code"]) == (422, "too_large")


def test_batch_endpoint(client: TestClient, hub: ServedHub) -> None:
    payload = {"case_number": "YY-1", "purpose": "批量核验", "subjects": [{"id_number": P_ZHANG}, {"id_number": P_LI}]}
    r = post(client, hub, "person_alive", payload, path="/batch")
    assert r.status_code == 200 and [x["match"] for x in r.json()["answer"]["results"]] == [True, True]


def test_counter_page_prints_the_answer_with_a_qr_code_in_chinese_and_english(
    client: TestClient, hub: ServedHub
) -> None:
    r = post(client, hub, "entity_basic_info", body({"uscc": E_SHOP}))
    doc, answer_id = r.json(), r.json()["answer"]["answer_id"]
    link = re.fullmatch(
        r'<(/verify/answer/[0-9a-f-]{36}/[0-9a-f]{32})>; rel="alternate"; type="text/html"', r.headers["link"]
    )
    assert link is not None and answer_id in link[1]
    page = client.get(link[1])
    assert page.status_code == 200 and "<svg" in page.text and "数据核验结果" in page.text
    assert "机构名称" in page.text and "益阳市资阳区张三商行" in page.text and doc["seal"]["key_id"] in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert "Verification result" in client.get(f"{link[1]}?lang=en").text


def test_the_printable_page_needs_its_unguessable_link(client: TestClient, hub: ServedHub) -> None:
    """The answer id is printed on the proof; the page needs the token only the asking client was given."""
    r = post(client, hub, "person_alive", body({"id_number": P_ZHANG}))
    answer_id = r.json()["answer"]["answer_id"]
    token = r.headers["link"].split("/")[4].split(">")[0]
    assert client.get(f"/verify/answer/{answer_id}").status_code == 404
    for forged in ("0" * 32, token[:-1] + ("0" if token[-1] != "0" else "1"), "x", "令牌" * 16):
        assert client.get(f"/verify/answer/{answer_id}/{forged}").status_code == 404
    other = post(client, hub, "person_alive", body({"id_number": P_LI})).json()["answer"]["answer_id"]
    assert client.get(f"/verify/answer/{other}/{token}").status_code == 404  # a token opens its own answer only


def test_an_answer_is_read_back_only_with_the_asking_clients_key(client: TestClient, hub: ServedHub) -> None:
    r = post(client, hub, "person_alive", body({"id_number": P_ZHANG}))
    answer_id = r.json()["answer"]["answer_id"]
    mine = client.get(f"/api/verify/answers/{answer_id}", headers={"X-Client-Key": hub.keys["all"]})
    assert mine.status_code == 200 and mine.json() == r.json() and mine.headers["link"] == r.headers["link"]
    nobody = client.get(f"/api/verify/answers/{answer_id}")
    assert (nobody.status_code, nobody.json()["code"]) == (401, "missing_key")
    forged = client.get(f"/api/verify/answers/{answer_id}", headers={"X-Client-Key": "all.forged"})
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_key")
    other = client.get(f"/api/verify/answers/{answer_id}", headers={"X-Client-Key": hub.keys["narrow"]})
    unknown = client.get(
        f"/api/verify/answers/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers={"X-Client-Key": hub.keys["narrow"]}
    )
    assert other.status_code == unknown.status_code == 404
    same = {k: v for k, v in other.json().items() if k != "instance"}  # the problem names the path asked, no more
    assert same == {k: v for k, v in unknown.json().items() if k != "instance"}  # nothing to probe
    assert P_ZHANG not in other.text and "match" not in other.text


def test_public_check_page_says_verified_or_why_not(client: TestClient, hub: ServedHub) -> None:
    doc = post(client, hub, "identity_matches", body({"id_number": P_ZHANG, "name": "张三"})).json()
    assert "粘贴" in client.get("/check").text
    good = client.post("/check", data={"document": json.dumps(doc, ensure_ascii=False)})
    assert 'data-ok="true"' in good.text and "验证通过" in good.text
    doc["answer"]["match"] = False
    bad = client.post("/check", data={"document": json.dumps(doc, ensure_ascii=False)})
    assert 'data-ok="false"' in bad.text and "签章与内容不符" in bad.text and "被改动" in bad.text
    garbage = client.post("/check?lang=en", data={"document": "not json"})
    assert "Not verified" in garbage.text and "malformed" in garbage.text
    api = client.post("/api/check", content=json.dumps(doc, ensure_ascii=False).encode()).json()
    assert api["ok"] is False and api["reason"] == "signature"


def test_the_chinese_check_page_says_why_in_chinese_with_no_raw_exception(client: TestClient, hub: ServedHub) -> None:
    doc = post(client, hub, "identity_matches", body({"id_number": P_ZHANG, "name": "张三"})).json()
    good = client.post("/check", data={"document": json.dumps(doc, ensure_ascii=False)}).text
    assert "签章有效" in good and "identity_matches" not in good.split("<textarea")[0]
    for text in ("not json", '{"answer": {}', "{}"):
        page = client.post("/check", data={"document": text}).text
        verdict = page.split('id="verdict"')[1].split("</div></div>")[0]
        assert "不是有效的电子核验凭证" in verdict and "请粘贴凭证的全部 JSON 文本" in verdict
        assert "Error" not in verdict and "Expecting" not in verdict and "not a valid" not in verdict
    assert identifiers(good.split("<form")[0]) == set()


def test_a_document_beyond_a_qr_codes_capacity_gets_a_note_not_an_error(
    client: TestClient, hub: ServedHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inclusion proofs make batch answers longer; past 2,953 bytes the page says so instead of failing."""
    from web.routes import verify as routes

    assert routes._qr_svg(b"x" * 2900) is not None and routes._qr_svg(b"x" * 3000) is None
    r = post(client, hub, "person_alive", body({"id_number": P_ZHANG}))
    link = r.headers["link"].split(">", 1)[0].lstrip("<")
    monkeypatch.setattr(routes, "_qr_svg", lambda data: None)
    page = client.get(link)
    assert page.status_code == 200 and 'id="seal-qr-missing"' in page.text and "二维码容量" in page.text


def _newest(hub: ServedHub) -> Any:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from exchange.log import ExchangeEvent

    with Session(hub.engine) as session:
        return session.scalars(select(ExchangeEvent).order_by(ExchangeEvent.seq.desc()).limit(1)).one()


def test_events_keep_the_address_a_bad_key_its_fingerprint_and_a_mistake_is_no_denial(hub: ServedHub) -> None:
    import hashlib

    from sqlalchemy.orm import Session

    from web.deps import get_session
    from web.refusals import refusal_window

    def session() -> Iterator[Session]:
        with Session(hub.engine) as s:
            yield s

    app = create_app()
    app.dependency_overrides[get_verification_service] = lambda: hub.service
    app.dependency_overrides[get_session] = session  # the refusal window writes through the app's sessions
    with TestClient(app) as client:
        assert post(client, hub, "person_alive", body({"id_number": P_ZHANG})).status_code == 200
        answered = _newest(hub)
        assert answered.details["address"] == "testclient" and answered.case_number and answered.purpose
        wrong = f"{hub.keys['all'].split('.', 1)[0]}.not-the-secret"
        subject = body({"id_number": P_ZHANG})
        assert client.post("/api/verify/person_alive", headers={"X-Client-Key": wrong}, json=subject).status_code == 401
        refusal_window(client.app).flush(everything=True)
        denial = _newest(hub)
        assert (denial.type, denial.outcome, denial.target) == ("denial", "denied", "address:testclient")
        fingerprint = hashlib.sha256(wrong.encode()).hexdigest()[:16]
        assert denial.details["keys"] == [{"key_fingerprint": fingerprint, "key_id": wrong.split(".")[0]}]
        assert "not-the-secret" not in json.dumps(denial.details)
        mistake = post(client, hub, "person_alive", {"purpose": "x", "subject": {"id_number": P_ZHANG}})
        assert mistake.status_code == 422
        invalid = _newest(hub)
        assert (invalid.type, invalid.outcome, invalid.details["address"]) == ("verification", "invalid", "testclient")


def test_a_bad_key_reading_back_an_answer_is_logged_with_its_address_and_fingerprint(
    client: TestClient, hub: ServedHub
) -> None:
    import hashlib

    answer_id = post(client, hub, "person_alive", body({"id_number": P_ZHANG})).json()["answer"]["answer_id"]
    wrong = f"{hub.keys['all'].split('.', 1)[0]}.not-the-secret"
    assert client.get(f"/api/verify/answers/{answer_id}", headers={"X-Client-Key": wrong}).status_code == 401
    denial = _newest(hub)
    assert (denial.type, denial.error_code, denial.target) == ("denial", "invalid_key", "address:testclient")
    fingerprint = hashlib.sha256(wrong.encode()).hexdigest()[:16]
    assert denial.details["key_fingerprint"] == fingerprint and denial.details["key_id"] == wrong.split(".")[0]
    assert denial.details["address"] == "testclient" and "not-the-secret" not in json.dumps(denial.details)
    assert client.get(f"/api/verify/answers/{answer_id}").status_code == 401
    missing = _newest(hub)
    assert (missing.error_code, missing.target, missing.details.get("key_id")) == (
        "missing_key",
        "address:testclient",
        None,
    )
    other = client.get(f"/api/verify/answers/{answer_id}", headers={"X-Client-Key": hub.keys["narrow"]})
    assert other.status_code == 404 and _newest(hub).target.startswith("client:")  # a valid key names its client
