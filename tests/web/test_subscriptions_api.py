"""The subscriptions API: apply, see only what is yours, decide as provider, revoke, typed errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import FINANCE, MARKET, OTHER_USER, POLICE, USER, Api
from sqlalchemy.orm import Session

from govhub.db import engine_for
from schemas import load_contract
from tests.target_support import file_target

APPLICATION = {
    "resource": "person",
    "purpose": "社会保险待遇资格认证",
    "legal_basis": "《社会保险法》第七十五条",
    "scope": "社保待遇资格认证系统",
    "valid_until": "2099-12-31",
    "fields": ["name", "status"],
    "delivery_mode": "file",
}


def _apply(api: Api, department: str = USER, **changes: Any) -> dict[str, Any]:
    response = api.client.post("/api/subscriptions", json=APPLICATION | changes, headers=api.headers(department))
    assert response.status_code == 201, response.text
    return response.json()


def _post(api: Api, path: str, department: str, body: dict) -> Any:
    return api.client.post(path, json=body, headers=api.headers(department))


def test_apply_for_a_conditional_resource_is_pending_with_a_due_date(api: Api) -> None:
    sub = _apply(api)
    assert sub["status"] == "pending" and sub["department_code"] == USER
    assert sub["resource"] == "person" and sub["resource_code"] == "101001001"
    assert sub["fields"] == ["id_number", "name", "status"]
    assert sub["due_at"] is not None and sub["overdue"] is False
    assert [e["action"] for e in sub["events"]] == ["applied"]


def test_every_moment_in_the_answer_is_beijing_time_with_its_offset(api: Api) -> None:
    sub = _apply(api)
    moments = [sub["applied_at"], sub["due_at"], *(e["at"] for e in sub["events"])]
    assert all(m.endswith("+08:00") for m in moments), moments
    assert sub["due_at"].endswith("T23:59:59+08:00")  # the answer is due by the end of a Beijing working day
    listed = api.client.get("/api/subscriptions", headers=api.headers(USER)).text
    assert 'Z"' not in listed and "+00:00" not in listed


def test_apply_for_an_unconditional_resource_is_granted_at_once(api: Api) -> None:
    sub = _apply(api, resource="102001001", fields=["name"])
    assert sub["status"] == "granted" and sub["decided_by"] == "govhub"
    assert [e["action"] for e in sub["events"]] == ["applied", "auto_granted"]


def test_unmasked_pii_of_an_unconditional_resource_goes_to_the_provider(api: Api) -> None:
    sub = _apply(api, resource="legal_entity", fields=["name", "legal_rep_id"], pii_access=True)
    assert sub["status"] == "pending" and sub["due_at"] is not None
    seen = api.client.get("/api/subscriptions?role=provider&status=pending", headers=api.headers(MARKET)).json()
    mine = next(s for s in seen["data"] if s["id"] == sub["id"])
    assert mine["pii_fields"] == [
        {"name": "legal_rep_id", "label": mine["pii_fields"][0]["label"], "pii": "identifier"}
    ]
    assert mine["purpose"] == APPLICATION["purpose"] and mine["legal_basis"] == APPLICATION["legal_basis"]
    response = _post(api, f"/api/subscriptions/{sub['id']}/decision", MARKET, {"approve": True})
    assert response.status_code == 200 and response.json()["status"] == "granted"


def test_the_provider_grants_and_the_grant_is_visible_to_both(api: Api) -> None:
    sub = _apply(api)
    response = _post(api, f"/api/subscriptions/{sub['id']}/decision", POLICE, {"approve": True})
    assert response.status_code == 200 and response.json()["status"] == "granted"
    for department in (USER, POLICE):
        seen = api.client.get(f"/api/subscriptions/{sub['id']}", headers=api.headers(department)).json()
        assert seen["status"] == "granted" and seen["decided_by"] == POLICE


def test_a_refusal_needs_reasons(api: Api) -> None:
    sub = _apply(api)
    response = _post(api, f"/api/subscriptions/{sub['id']}/decision", POLICE, {"approve": False})
    assert response.status_code == 422
    assert response.json()["message_zh"] == "不予共享的答复必须说明理由"
    response = _post(api, f"/api/subscriptions/{sub['id']}/decision", POLICE, {"approve": False, "reason": "超出职责"})
    assert response.status_code == 200
    assert response.json()["status"] == "refused" and response.json()["refusal_reason"] == "超出职责"


def test_deciding_twice_is_409(api: Api) -> None:
    sub = _apply(api)
    assert _post(api, f"/api/subscriptions/{sub['id']}/decision", POLICE, {"approve": True}).status_code == 200
    response = _post(api, f"/api/subscriptions/{sub['id']}/decision", POLICE, {"approve": True})
    assert response.status_code == 409 and response.json()["code"] == "conflict"


def test_the_applicant_cannot_decide_its_own_application(api: Api) -> None:
    sub = _apply(api)
    response = _post(api, f"/api/subscriptions/{sub['id']}/decision", USER, {"approve": True})
    assert response.status_code == 403
    assert response.json()["message_zh"].startswith("只有提供部门 市公安局")


@pytest.mark.parametrize("department", [OTHER_USER, MARKET])
def test_another_departments_application_is_404(api: Api, department: str) -> None:
    sub = _apply(api)
    path = f"/api/subscriptions/{sub['id']}"
    assert api.client.get(path, headers=api.headers(department)).status_code == 404
    assert _post(api, f"{path}/decision", department, {"approve": True}).status_code == 404
    assert _post(api, f"{path}/revoke", department, {"reason": "x"}).status_code == 404


def test_list_shows_own_applications_and_those_to_decide(api: Api) -> None:
    mine = _apply(api)
    theirs = _apply(api, OTHER_USER)
    payment = _apply(api, OTHER_USER, resource="payment", fields=["amount"])

    def ids(department: str, **params: str) -> list[int]:
        response = api.client.get("/api/subscriptions", params=params, headers=api.headers(department))
        assert response.status_code == 200
        return [s["id"] for s in response.json()["data"]]

    assert ids(USER) == [mine["id"]]
    assert ids(OTHER_USER) == [theirs["id"], payment["id"]]
    assert ids(POLICE) == [mine["id"], theirs["id"]]
    assert ids(POLICE, role="applicant") == []
    assert ids(FINANCE, status="pending") == [payment["id"]]
    assert ids(FINANCE, status="granted") == []
    assert ids(MARKET) == []


def test_revoke_a_grant(api: Api) -> None:
    sub = _apply(api, resource="legal_entity", fields=["name"])
    response = _post(api, f"/api/subscriptions/{sub['id']}/revoke", MARKET, {"reason": "用途已结束"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "revoked" and body["revoked_by"] == MARKET
    assert [e["action"] for e in body["events"]] == ["applied", "auto_granted", "revoked"]
    again = _post(api, f"/api/subscriptions/{sub['id']}/revoke", MARKET, {"reason": "again"})
    assert again.status_code == 409


def test_unknown_fields_are_422_naming_them(api: Api) -> None:
    response = api.client.post(
        "/api/subscriptions", json=APPLICATION | {"fields": ["name", "salary"]}, headers=api.headers(USER)
    )
    assert response.status_code == 422
    detail = response.json()
    assert "no field(s) salary; allowed: id_number, name" in detail["message"]
    assert detail["field"] == "salary" and "salary" in detail["message_zh"]


def test_unknown_resource_is_404(api: Api) -> None:
    response = api.client.post(
        "/api/subscriptions", json=APPLICATION | {"resource": "people"}, headers=api.headers(USER)
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"delivery_mode": "email"}, id="bad-mode"),
        pytest.param({"fields": []}, id="no-fields"),
        pytest.param({"fields": "name"}, id="fields-not-a-list"),
        pytest.param({"purpose": ""}, id="empty-purpose"),
        pytest.param({"delivery_mode": "database"}, id="database-without-target"),
        pytest.param({"schedule": "sometimes"}, id="bad-schedule"),
    ],
)
def test_bad_applications_are_422_never_500(api: Api, changes: dict) -> None:
    response = api.client.post("/api/subscriptions", json=APPLICATION | changes, headers=api.headers(USER))
    assert response.status_code == 422, response.text


def test_missing_body_and_bad_ids_are_422(api: Api) -> None:
    assert api.client.post("/api/subscriptions", headers=api.headers(USER)).status_code == 422
    assert api.client.get("/api/subscriptions/abc", headers=api.headers(USER)).status_code == 422
    assert api.client.get("/api/subscriptions/999", headers=api.headers(USER)).status_code == 404


def test_a_department_picks_its_own_named_target_and_never_sees_the_connection(api: Api, tmp_path: Path) -> None:
    with Session(engine_for(api.db_url)) as session:
        file_target(session, tmp_path, USER, "rs-db", "postgresql+psycopg://rs:s3cret@db.rsj.example/rs")
        file_target(session, tmp_path, OTHER_USER, "zj-db", "postgresql+psycopg://zj:pw@db.zj.example/zj")
        session.commit()
    listed = api.client.get("/api/targets", headers=api.headers(USER)).json()
    assert [t["name"] for t in listed["data"]] == ["rs-db"] and listed["data"][0]["source"] == "file"
    sub = _apply(api, delivery_mode="database", target="rs-db")
    assert sub["target"] == "rs-db"
    seen = str(api.client.get(f"/api/subscriptions/{sub['id']}", headers=api.headers(USER)).json()) + str(listed)
    for secret in ("s3cret", "db.rsj.example", str(tmp_path)):
        assert secret not in seen and secret not in str(sub)
    theirs = APPLICATION | {"delivery_mode": "database", "target": "zj-db", "resource": "legal_entity"}
    other = api.client.post("/api/subscriptions", json=theirs, headers=api.headers(USER))
    assert other.status_code == 404 and "db.zj.example" not in other.text
    by_url = api.client.post(
        "/api/subscriptions",
        json=APPLICATION | {"delivery_mode": "database", "target_url": "postgresql://postgres@127.0.0.1/govhub"},
        headers=api.headers(USER),
    )
    assert by_url.status_code == 422 and by_url.json()["field"] == "target_url"


def test_a_provider_applying_for_its_own_resource_is_422(api: Api) -> None:
    response = api.client.post("/api/subscriptions", json=APPLICATION, headers=api.headers(POLICE))
    assert response.status_code == 422 and "provides resource person itself" in response.json()["message"]


def test_a_duplicate_application_is_409(api: Api) -> None:
    _apply(api)
    response = api.client.post("/api/subscriptions", json=APPLICATION, headers=api.headers(USER))
    assert response.status_code == 409


def test_the_answer_says_which_fields_arrive_masked_why_and_how_to_ask(api: Api) -> None:
    masked = _apply(api, fields=["name", "gender", "birth_date", "region_code"])
    contract = load_contract("person")
    expected = [f.name for f in contract.fields if f.pii != "none" and f.name in {*masked["fields"]}]  # from schemas
    assert masked["masked_fields"] == expected == ["id_number", "name", "gender", "birth_date"]
    notice = masked["masking"]
    assert [f["label"] for f in notice["fields"]] == ["公民身份号码", "姓名", "性别", "出生日期"]
    assert {f["name"]: f["masking"] for f in notice["fields"]} == {
        "id_number": "pseudonym",
        "name": "initial",
        "gender": "initial",
        "birth_date": "withheld",
    }
    assert "pii_access=false" in notice["reason_zh"] and "pii_access=true" in notice["how_to_ask_zh"]
    assert "性别（gender）" in notice["how_to_ask_zh"] and "市公安局" in notice["how_to_ask_zh"]
    assert notice["rule"] == "pii_masking" and "《政务数据共享条例》" in notice["rule_text_zh"]
    unmasked = _apply(api, department=OTHER_USER, fields=["name", "birth_date"], pii_access=True)
    assert (unmasked["masked_fields"], unmasked["masking"]) == ([], None)
