"""Providers grant or refuse applications in the monitor, seeing what is asked for, why, and how long is left."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import POLICE, USER, Api
from fastapi.testclient import TestClient
from visible_text import identifiers

from govhub.settings import reset_settings
from tests.monitor_support import csrf_token, sign_in

APPLICATION = {
    "resource": "101001001",
    "purpose": "社保待遇资格认证",
    "legal_basis": "《社会保险法》第十六条",
    "scope": "市人社局社保待遇资格认证系统，经办人员",
    "valid_until": "2099-12-31",
    "fields": ["id_number", "name", "birth_date"],
    "pii_access": True,
    "delivery_mode": "file",
}


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))  # the monitor's session secret lives here
    reset_settings()
    yield
    reset_settings()


def _apply(api: Api) -> int:
    answer = api.client.post("/api/subscriptions", json=APPLICATION, headers=api.headers(USER))
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _signed_in(api: Api, department: str) -> TestClient:
    client = TestClient(api.client.app)
    answer = sign_in(client, api_key=api.keys[department])
    assert answer.status_code == 303, answer.text
    return client


def _token(client: TestClient) -> str:
    return csrf_token(client, "/monitor/catalogue")


def _decide(
    client: TestClient, sub: int, decision: str, reason: str = "", *, token: str | None = None
) -> httpx.Response:
    return client.post(
        f"/monitor/sharing/{sub}/decision",
        follow_redirects=False,
        data={"decision": decision, "reason": reason, "csrf_token": _token(client) if token is None else token},
    )


def test_the_provider_sees_fields_pii_purpose_basis_and_working_days_left(api: Api) -> None:
    sub = _apply(api)
    police = _signed_in(api, POLICE)
    assert f'href="/monitor/sharing/{sub}"' in police.get("/monitor/sharing").text
    page = police.get(f"/monitor/sharing/{sub}").text
    for shown in (
        "公民身份号码",
        "姓名",
        "出生日期",
        "身份标识",
        "申请获取未脱敏的个人信息",
        "社保待遇资格认证",
        "《社会保险法》第十六条",
        "个工作日",
        'id="approve"',
        'id="refuse"',
        "市人社局",
    ):
        assert shown in page, shown
    assert identifiers(page) == set()


def test_a_refusal_needs_reasons_and_is_recorded_with_them(api: Api) -> None:
    sub = _apply(api)
    police = _signed_in(api, POLICE)
    empty = _decide(police, sub, "refuse")
    assert empty.status_code == 422 and "不予共享的答复必须说明理由" in empty.text
    assert api.client.get(f"/api/subscriptions/{sub}", headers=api.headers(USER)).json()["status"] == "pending"
    done = _decide(police, sub, "refuse", "申请的出生日期超出社保资格认证所需范围")
    assert done.status_code == 303 and done.headers["location"] == f"/monitor/sharing/{sub}?done=refuse"
    seen = api.client.get(f"/api/subscriptions/{sub}", headers=api.headers(USER)).json()
    assert seen["status"] == "refused" and seen["decided_by"] == POLICE
    assert seen["refusal_reason"] == "申请的出生日期超出社保资格认证所需范围"
    page = police.get(f"/monitor/sharing/{sub}?done=refuse").text
    assert "已答复不予共享" in page and 'id="refuse"' not in page  # decided: no form any more


def test_the_provider_grants_and_only_the_provider_may(api: Api) -> None:
    sub = _apply(api)
    applicant = _signed_in(api, USER)
    page = applicant.get(f"/monitor/sharing/{sub}").text
    assert "社保待遇资格认证" in page and 'id="approve"' not in page  # the applicant reads, never decides
    refused = _decide(applicant, sub, "approve")
    assert refused.status_code == 422 and "只有提供部门" in refused.text
    police = _signed_in(api, POLICE)
    assert _decide(police, sub, "approve", "符合共享条件").status_code == 303
    assert api.client.get(f"/api/subscriptions/{sub}", headers=api.headers(USER)).json()["status"] == "granted"
    again = _decide(police, sub, "refuse", "改变主意")
    assert again.status_code == 422  # decided once: a replayed or second decision is refused


def test_a_post_from_another_site_is_refused(api: Api) -> None:
    sub = _apply(api)
    police = _signed_in(api, POLICE)
    forged = _decide(police, sub, "approve", "x", token="forged")
    assert forged.status_code == 403
    assert api.client.get(f"/api/subscriptions/{sub}", headers=api.headers(USER)).json()["status"] == "pending"


def test_other_departments_cannot_open_an_application(api: Api) -> None:
    sub = _apply(api)
    from conftest import OTHER_USER

    other = _signed_in(api, OTHER_USER)
    assert other.get(f"/monitor/sharing/{sub}").status_code == 404
    assert _decide(other, sub, "approve", "x").status_code == 404


def test_a_department_browses_the_catalogue_and_applies_in_the_browser(api: Api) -> None:
    user = _signed_in(api, USER)
    catalogue = user.get("/monitor/catalogue").text
    assert "人口基础信息" in catalogue and 'id="apply-person"' in catalogue
    assert identifiers(catalogue) == set()
    form = user.get("/monitor/catalogue/person/apply").text
    assert "公民身份号码" in form and "主键，总是包含" in form and identifiers(form) == set()
    token = _token(user)
    missing = user.post(
        "/monitor/catalogue/person/apply", data={"field": ["name"], "legal_basis": "社会保险法", "csrf_token": token}
    )
    assert missing.status_code == 422 and "用途" in missing.text.split('id="apply-error"')[1].split("</p>")[0]
    no_term = {
        "field": ["name"],
        "purpose": "资格认证",
        "legal_basis": "社会保险法",
        "scope": "人社局",
        "csrf_token": token,
    }
    unstated = user.post("/monitor/catalogue/person/apply", data=no_term)
    assert unstated.status_code == 422 and "使用期限" in unstated.text.split('id="apply-error"')[1].split("</p>")[0]
    garbled = user.post("/monitor/catalogue/person/apply", data={**no_term, "valid_until": "明年"})
    assert garbled.status_code == 422 and "使用期限须为日期" in garbled.text
    answer = user.post(
        "/monitor/catalogue/person/apply",
        follow_redirects=False,
        data={
            "field": ["name", "birth_date"],
            "purpose": "社保待遇资格认证",
            "legal_basis": "《社会保险法》",
            "scope": "市人社局资格认证系统",
            "valid_until": "2099-12-31",
            "delivery_mode": "file",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 303, answer.text
    sub = int(answer.headers["location"].rsplit("/", 1)[1])
    seen = api.client.get(f"/api/subscriptions/{sub}", headers=api.headers(POLICE)).json()
    assert seen["status"] == "pending" and seen["department_code"] == USER
    assert set(seen["fields"]) >= {"id_number", "name", "birth_date"}
    police = _signed_in(api, POLICE)
    assert 'id="apply-person"' not in police.get("/monitor/catalogue").text  # a provider does not apply to itself
