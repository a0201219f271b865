"""The corrections API: flag, list, confirm, reject; bad input refused bilingually, logged, nothing changed."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from correction_support import (
    ALICE,
    OTHER_USER,
    POLICE,
    USER,
    CorrectionHub,
    asked,
    correction_hub,
    correction_template,
)
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from catalog import get_flag, issue_admin_key, issue_api_key
from exchange.log import EventType, ExchangeLog
from exchange.verify import register_client
from govhub.corrections import check_published
from govhub.db import engine_for
from govhub.settings import get_settings
from tests.hub_support import template_home
from web import create_app
from web.maintenance import maintain_once

FLAG = {
    "resource": "person",
    "record_key": ALICE,
    "field": "name",
    "problem": "姓名用字与户口簿不一致",
    "evidence_ref": "户口簿 No.0001",
}


class Hub:
    def __init__(self, hub: CorrectionHub, client: TestClient, keys: dict[str, str]) -> None:
        self.hub, self.client, self.keys = hub, client, keys

    def post(self, path: str, body: dict[str, Any], who: str) -> Any:
        return self.client.post(path, json=body, headers=self.headers(who))

    def get(self, path: str, who: str) -> Any:
        return self.client.get(path, headers=self.headers(who))

    def headers(self, who: str) -> dict[str, str]:
        header = {"client": "X-Client-Key", "admin": "X-Admin-Key"}.get(who, "X-API-Key")
        return {header: self.keys[who]}

    def log(self, type: str) -> list[Any]:
        with self.hub.session() as session:
            return list(reversed(ExchangeLog(session).query(type=type)))


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The correction hub with API keys of three departments, an admin key and an approval system's key
    (scrypt makes issuing them slow: once per module, the home copied for each test)."""
    home = tmp_path_factory.mktemp("corrections-api")
    shutil.copytree(correction_template(), home, dirs_exist_ok=True)
    with template_home(home), Session(engine_for(get_settings().metadata_url)) as session:
        keys = {code: issue_api_key(session, code) for code in (USER, OTHER_USER, POLICE)}
        keys["admin"] = issue_admin_key(session, "zhang-wei")
        _, keys["client"] = register_client(
            session, client_id="budongchan", name="不动产登记系统", allowed_items=["identity_matches"]
        )
        session.commit()
    return home, keys


@pytest.fixture
def api(keyed: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    template, keys = keyed
    hub = correction_hub(tmp_path, monkeypatch, template=template)
    with TestClient(create_app()) as client:
        yield Hub(hub, client, keys)


def test_flag_confirm_and_close_seen_by_both_sides(api: Hub) -> None:
    created = api.post("/api/corrections", FLAG, USER)
    assert created.status_code == 201, created.text
    flag = created.json()
    assert (flag["status"], flag["flagged_value"], flag["provider_code"], flag["closed_reason"]) == (
        "open",
        None,
        POLICE,
        None,
    )
    assert flag["raised_at"].endswith("+08:00") and flag["due_at"].endswith("+08:00")  # Beijing time
    seen = api.get("/api/corrections?status=open", POLICE).json()
    assert [(f["id"], f["flagged_value"]) for f in seen["data"]] == [(flag["id"], "张三")]  # the provider sees it
    assert (
        flag["record_key"] == "4309************34" and seen["data"][0]["record_key"] == ALICE
    )  # masked for the reporter
    confirmed = api.post(f"/api/corrections/{flag['id']}/confirm", {"reason": "核实属实"}, POLICE)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    api.hub.publish({ALICE: "张叁"})
    check_published("person")
    mine = api.get(f"/api/corrections/{flag['id']}", USER).json()
    assert (mine["status"], mine["closed_version"], mine["closed_reason"]) == ("closed", 1, "corrected")
    events = api.get("/api/corrections/events?after=0", USER).json()["data"]
    assert [e["action"] for e in events] == ["flagged", "confirmed", "notified", "closed", "notified"]
    after = events[2]["id"]
    assert [e["action"] for e in api.get(f"/api/corrections/events?after={after}", USER).json()["data"]] == [
        "closed",
        "notified",
    ]


def test_an_approval_system_flags_with_its_case_number(api: Hub) -> None:
    missing = api.post("/api/corrections", FLAG, "client")
    assert missing.status_code == 422 and "办件编号" in missing.json()["message_zh"]
    not_asked = api.post("/api/corrections", {**FLAG, "case_number": "BDC-2026-0001"}, "client")
    assert not_asked.status_code == 403 and "未核验过该记录" in not_asked.json()["message_zh"]
    asked("budongchan", "BDC-2026-0001", ALICE)
    created = api.post("/api/corrections", {**FLAG, "case_number": "BDC-2026-0001"}, "client")
    assert created.status_code == 201, created.text
    assert created.json()["reporter"] == "budongchan" and created.json()["case_number"] == "BDC-2026-0001"
    assert created.json()["flagged_value"] is None  # an approval system learns no stored value
    assert api.get("/api/corrections", "client").json()["count"] == 1
    refused = api.post(f"/api/corrections/{created.json()['id']}/confirm", {}, "client")
    assert refused.status_code == 403
    last = api.log(EventType.CORRECTION)[-1]  # the refusal names the approval system, not a department
    assert (last.source, last.client, last.department, last.details["action"]) == (
        "client:budongchan",
        "budongchan",
        None,
        "decision_refused",
    )


@pytest.mark.parametrize(
    ("who", "body", "status", "rule"),
    [
        pytest.param(USER, {**FLAG, "record_key": "430902200001010000"}, 404, "没有主键为", id="unknown-record"),
        pytest.param(USER, {**FLAG, "field": "nickname"}, 404, "没有信息项", id="unknown-field"),
        pytest.param(USER, {**FLAG, "resource": "weather"}, 404, "不存在于资源目录", id="unknown-resource"),
        pytest.param(OTHER_USER, FLAG, 403, "未获得该信息项的共享授权", id="no-grant"),
        pytest.param(USER, {**FLAG, "field": "phone"}, 403, "未获得该信息项的共享授权", id="field-not-granted"),
        pytest.param(
            USER, {k: v for k, v in FLAG.items() if k != "evidence_ref"}, 422, "必须提供证据", id="no-evidence"
        ),
    ],
)
def test_bad_flags_are_refused_logged_and_change_nothing(
    api: Hub, who: str, body: dict[str, Any], status: int, rule: str
) -> None:
    answer = api.post("/api/corrections", body, who)
    assert answer.status_code == status, answer.text
    detail = answer.json()
    assert rule in detail["message_zh"] and detail["message"] and detail["type"].startswith("/problems/")
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert api.get("/api/corrections", POLICE).json()["count"] == 0
    (refusal,) = api.log(EventType.CORRECTION)  # the refusal itself, naming the rule; no flag
    assert refusal.outcome == ("denied" if status == 403 else "failed") and refusal.details["action"] == "flag_refused"
    if status == 403:  # a refusal is a denial; a caller's own mistake (422) is a client error, never a denial
        assert [e.details["status"] for e in api.log(EventType.DENIAL)] == [status]
    elif status != 404:  # a plain 404 (unknown thing) is neither
        assert [e.details["status"] for e in api.log(EventType.CLIENT_ERROR)] == [status]
        assert api.log(EventType.DENIAL) == []


def test_a_duplicate_and_a_stranger_decision_are_refused(api: Hub) -> None:
    flag = api.post("/api/corrections", FLAG, USER).json()
    again = api.post("/api/corrections", FLAG, USER)
    assert again.status_code == 409 and "请勿重复提出" in again.json()["message_zh"]
    by_reporter = api.post(f"/api/corrections/{flag['id']}/confirm", {}, USER)
    assert by_reporter.status_code == 403 and "只有数据提供部门" in by_reporter.json()["message_zh"]
    stranger = api.post(f"/api/corrections/{flag['id']}/reject", {"reason": "x"}, OTHER_USER)
    assert stranger.status_code == 404  # a stranger does not learn that the flag exists
    no_reason = api.post(f"/api/corrections/{flag['id']}/reject", {}, POLICE)
    assert no_reason.status_code == 422 and "理由" in no_reason.json()["message_zh"]
    assert api.get(f"/api/corrections/{flag['id']}", USER).json()["status"] == "open"
    steps = [(e.details["action"], e.outcome) for e in api.log(EventType.CORRECTION)]
    assert steps == [
        ("flagged", "ok"),
        ("flag_refused", "failed"),
        ("decision_refused", "denied"),
        ("decision_refused", "failed"),
    ]
    assert [e.details["status"] for e in api.log(EventType.DENIAL)] == [403, 404]
    assert [e.details["status"] for e in api.log(EventType.CLIENT_ERROR)] == [409, 422]
    rejected = api.post(f"/api/corrections/{flag['id']}/reject", {"reason": "户籍档案记载无误"}, POLICE)
    assert rejected.json()["status"] == "rejected" and rejected.json()["decision_reason"] == "户籍档案记载无误"


def test_no_key_is_401(api: Hub) -> None:
    assert api.client.get("/api/corrections").status_code == 401
    assert api.client.get("/api/corrections", headers={"X-Client-Key": "gc.nobody.secret"}).status_code == 401


def test_a_data_administrator_flags_and_lists_all_but_does_not_decide(api: Hub) -> None:
    by_user = api.post("/api/corrections", FLAG, USER).json()
    created = api.post("/api/corrections", {**FLAG, "field": "phone"}, "admin")  # any field: no grant needed
    assert created.status_code == 201, created.text
    flag = created.json()
    assert (flag["reporter_kind"], flag["reporter"], flag["provider_code"]) == ("admin", "zhang-wei", POLICE)
    listed = api.get("/api/corrections", "admin").json()
    assert [f["id"] for f in listed["data"]] == [by_user["id"], flag["id"]]  # every flag, whoever raised it
    assert api.get(f"/api/corrections/{by_user['id']}", "admin").status_code == 200
    refused = api.post(f"/api/corrections/{by_user['id']}/confirm", {"reason": "核实属实"}, "admin")
    assert refused.status_code == 403 and "只有数据提供部门可以答复纠错" in refused.json()["message_zh"]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert api.get(f"/api/corrections/{by_user['id']}", USER).json()["status"] == "open"  # nothing changed
    steps = [(e.source, e.details["action"], e.outcome) for e in api.log(EventType.CORRECTION)]
    assert steps[-1] == ("admin:zhang-wei", "decision_refused", "denied")
    assert ("admin:zhang-wei", "flagged", "ok") in steps
    assert [e.details["status"] for e in api.log(EventType.DENIAL)] == [403]


def test_a_bad_admin_key_is_401_not_a_department_call(api: Hub) -> None:
    headers = {"X-Admin-Key": "gha.nobody.secret", "X-API-Key": api.keys[USER]}
    assert api.client.get("/api/corrections", headers=headers).status_code == 401


def test_reading_flags_writes_nothing_and_the_maintenance_marks_overdue_once(api: Hub) -> None:
    flag = api.post("/api/corrections", FLAG, USER).json()
    with api.hub.session() as session:
        get_flag(session, flag["id"]).due_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        session.commit()
    seen = api.get("/api/corrections", POLICE).json()["data"]
    assert [f["overdue"] for f in seen] == [True]  # computed on read ...
    assert _overdue_steps(api) == []  # ... but a read logs nothing
    assert maintain_once(api.client.app)["corrections_overdue"] == 1  # type: ignore[arg-type]
    assert maintain_once(api.client.app)["corrections_overdue"] == 0  # type: ignore[arg-type]
    api.get("/api/corrections", POLICE)
    assert _overdue_steps(api) == [("govhub", f"department:{POLICE}")]  # once, by the scheduled round
    events = api.get("/api/corrections/events?after=0", USER).json()["data"]
    assert [e["action"] for e in events] == ["flagged", "overdue"]


def _overdue_steps(api: Hub) -> list[tuple[str, str]]:
    return [(e.source, e.target) for e in api.log(EventType.CORRECTION) if e.details["action"] == "overdue"]
