"""The disputes API: only the applicant escalates a refused application; both sides see it; all logged."""

from __future__ import annotations

from typing import Any

from conftest import MARKET, OTHER_USER, POLICE, USER, Api

from catalog import HUB_ADMIN
from exchange.log import EventType, ExchangeLog
from govhub.sharing_disputes import decide_logged

APPLICATION = {
    "resource": "person",
    "purpose": "社会保险待遇资格认证",
    "legal_basis": "《社会保险法》第七十五条",
    "scope": "社保待遇资格认证系统",
    "valid_until": "2099-12-31",
    "fields": ["name"],
    "delivery_mode": "file",
}


def _refused(api: Api) -> int:
    created = api.client.post("/api/subscriptions", json=APPLICATION, headers=api.headers(USER))
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    refused = api.client.post(
        f"/api/subscriptions/{sid}/decision",
        json={"approve": False, "reason": "超出履职范围"},
        headers=api.headers(POLICE),
    )
    assert refused.status_code == 200, refused.text
    return sid


def _escalate(api: Api, department: str, sid: int, grounds: str = "履职确需") -> Any:
    return api.client.post(
        "/api/disputes", json={"subscription_id": sid, "grounds": grounds}, headers=api.headers(department)
    )


def test_the_applicant_escalates_and_both_sides_see_the_decision(api: Api) -> None:
    sid = _refused(api)
    created = _escalate(api, USER, sid)
    assert created.status_code == 201, created.text
    dispute = created.json()
    assert dispute["status"] == "open" and dispute["raised_by"] == USER and dispute["overdue"] is False
    with api.session() as session:
        decide_logged(
            session,
            dispute["id"],
            actor=HUB_ADMIN,
            outcome="granted",
            reason="属于履职所需",
            exchange_log=ExchangeLog(session),
        )
        session.commit()
    for department in (USER, POLICE):
        seen = api.client.get(f"/api/disputes/{dispute['id']}", headers=api.headers(department)).json()
        assert seen["status"] == "granted" and seen["decision_reason"] == "属于履职所需"
    sub = api.client.get(f"/api/subscriptions/{sid}", headers=api.headers(USER)).json()
    assert sub["status"] == "granted" and sub["events"][-1]["action"] == "granted_on_dispute"
    with api.session() as session:
        log = ExchangeLog(session)
        assert [e.details["action"] for e in log.query(type=EventType.SUBSCRIPTION)] == ["dispute_escalated"]  # type: ignore[index]
        assert [e.details["outcome"] for e in log.query(type=EventType.ADMIN)] == ["granted"]  # type: ignore[index]


def test_another_department_may_not_escalate_nor_see_it(api: Api) -> None:
    sid = _refused(api)
    refused = _escalate(api, OTHER_USER, sid)
    assert refused.status_code == 403
    assert "申请部门" in refused.json()["message_zh"]
    assert _escalate(api, POLICE, sid).status_code == 403
    dispute = _escalate(api, USER, sid).json()
    assert api.client.get(f"/api/disputes/{dispute['id']}", headers=api.headers(MARKET)).status_code == 404
    assert api.client.get("/api/disputes", headers=api.headers(MARKET)).json()["count"] == 0


def test_bad_escalations_are_typed_errors(api: Api) -> None:
    sid = _refused(api)
    blank = _escalate(api, USER, sid, grounds=" ")
    assert blank.status_code == 422 and blank.json()["field"] == "grounds"
    assert _escalate(api, USER, sid).status_code == 201
    assert _escalate(api, USER, sid).status_code == 409  # one dispute per application
    assert _escalate(api, USER, 999).status_code == 404


def test_a_missing_statement_is_a_bilingual_422_naming_the_field(api: Api) -> None:
    body = {k: v for k, v in APPLICATION.items() if k != "scope"}
    answer = api.client.post("/api/subscriptions", json=body, headers=api.headers(USER))
    assert answer.status_code == 422
    detail = answer.json()
    assert detail["field"] == "scope" and "scope is required" in detail["message"]
    assert "使用范围" in detail["message_zh"] and "scope" in detail["message_zh"]
