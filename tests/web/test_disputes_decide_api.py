"""POST /api/disputes/{id}/decide: only the sharing authority's admin key decides; department keys are refused."""

from __future__ import annotations

from conftest import POLICE, USER, Api
from test_disputes_api import _escalate, _refused

from catalog import issue_admin_key, revoke_admin_key
from catalog.admin_keys import AdminKey, authenticate_admin
from exchange.log import EventType, ExchangeLog


def _admin_key(api: Api, name: str = "zhang-wei") -> dict[str, str]:
    with api.session() as session:
        key = issue_admin_key(session, name)
        session.commit()
        stored = session.get(AdminKey, name)
        assert stored is not None and key.split(".")[2] not in stored.key_hash  # hashed, never kept in clear
    return {"X-Admin-Key": key}


def _open_dispute(api: Api) -> int:
    created = _escalate(api, USER, _refused(api))
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_the_authority_decides_through_the_api_once_and_it_is_logged(api: Api) -> None:
    dispute = _open_dispute(api)
    admin = _admin_key(api)
    decided = api.client.post(
        f"/api/disputes/{dispute}/decide", json={"outcome": "granted", "reason": "属于履职所需"}, headers=admin
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "granted" and decided.json()["decided_by"] == "govhub-admin"
    moments = [decided.json()[name] for name in ("raised_at", "due_at", "decided_at")]
    assert all(moment.endswith("+08:00") for moment in moments), moments  # Beijing time, as the rest of the API
    again = api.client.post(
        f"/api/disputes/{dispute}/decide", json={"outcome": "upheld", "reason": "再议"}, headers=admin
    )
    assert again.status_code == 409 and "已处理" in again.json()["message_zh"]
    seen = api.client.get(f"/api/disputes/{dispute}", headers=api.headers(USER)).json()
    assert seen["status"] == "granted" and seen["decision_reason"] == "属于履职所需"
    assert seen["raised_at"].endswith("+08:00") and seen["decided_at"].endswith("+08:00")
    listed = api.client.get("/api/disputes", headers=admin).json()["data"]
    assert [d["due_at"][-6:] for d in listed] == ["+08:00"]
    with api.session() as session:
        [event] = ExchangeLog(session).query(type=EventType.ADMIN)
    assert event.details["decided_with"] == "admin-key:zhang-wei" and event.details["outcome"] == "granted"  # type: ignore[index]


def test_department_keys_cannot_decide_and_the_refusal_names_the_department(api: Api) -> None:
    dispute = _open_dispute(api)
    for department in (USER, POLICE):
        refused = api.client.post(
            f"/api/disputes/{dispute}/decide",
            json={"outcome": "granted", "reason": "自己批准"},
            headers=api.headers(department),
        )
        assert refused.status_code == 403 and "共享主管部门" in refused.json()["message_zh"]
    with api.session() as session:
        denials = ExchangeLog(session).query(type=EventType.DENIAL)
    assert sorted(d.department for d in denials) == sorted([USER, POLICE])  # type: ignore[type-var]
    assert api.client.get(f"/api/disputes/{dispute}", headers=api.headers(USER)).json()["status"] == "open"


def test_missing_forged_revoked_keys_and_bad_bodies_are_clear_errors(api: Api) -> None:
    dispute = _open_dispute(api)
    url = f"/api/disputes/{dispute}/decide"
    decision = {"outcome": "upheld", "reason": "依法不予共享"}
    assert api.client.post(url, json=decision).status_code == 401
    admin = _admin_key(api)
    forged = {"X-Admin-Key": admin["X-Admin-Key"][:-3] + "xyz"}
    assert api.client.post(url, json=decision, headers=forged).status_code == 401
    forged_department = {"X-API-Key": api.headers(USER)["X-API-Key"][:-3] + "xyz"}  # no department: 401, not 403
    assert api.client.post(url, json=decision, headers=forged_department).status_code == 401
    assert api.client.post(url, json={"outcome": "maybe", "reason": "x"}, headers=admin).status_code == 422
    assert api.client.post(url, json={"outcome": "upheld", "reason": ""}, headers=admin).status_code == 422
    assert api.client.post("/api/disputes/999/decide", json=decision, headers=admin).status_code == 404
    with api.session() as session:
        revoke_admin_key(session, "zhang-wei")
        session.commit()
        assert authenticate_admin(session, admin["X-Admin-Key"]) is None
    revoked = api.client.post(url, json=decision, headers=admin)
    assert revoked.status_code == 401 and "govhub admin issue-key" in revoked.json()["message"]
    assert api.client.get(f"/api/disputes/{dispute}", headers=api.headers(USER)).json()["status"] == "open"


def test_the_authority_lists_every_open_dispute_with_its_key(api: Api) -> None:
    dispute = _open_dispute(api)
    admin = _admin_key(api)
    listed = api.client.get("/api/disputes", params={"status": "open"}, headers=admin)
    assert listed.status_code == 200 and [d["id"] for d in listed.json()["data"]] == [dispute]
    assert api.client.get(f"/api/disputes/{dispute}", headers=admin).json()["status"] == "open"
    api.client.post(f"/api/disputes/{dispute}/decide", json={"outcome": "upheld", "reason": "依法"}, headers=admin)
    assert api.client.get("/api/disputes", params={"status": "open"}, headers=admin).json()["count"] == 0
    assert api.client.get("/api/disputes", headers={"X-Admin-Key": "gha.nobody.x"}).status_code == 401
