"""The monitor's corrections page and alert: flags by provider with age and outcome, overdue ones flagged."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from correction_support import ALICE, BOB, POLICE, USER, CorrectionHub, correction_hub, correction_template
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from visible_text import identifiers

from catalog import Reporter, issue_api_key
from govhub.corrections import decide_logged, flag_logged
from govhub.db import engine_for
from govhub.settings import get_settings
from tests.hub_support import template_home
from tests.monitor_support import sign_in
from web import create_app
from web.monitor import collect_alerts
from web.monitor.auth import create_admin

PASSWORD = "correct horse battery staple 1"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The correction hub with an administrator (Argon2id: slow by design), Alice's name flagged and Bob's status
    flagged and rejected; prepared once, copied for each test."""
    home = tmp_path_factory.mktemp("monitor-corrections")
    shutil.copytree(correction_template(), home, dirs_exist_ok=True)
    with template_home(home), Session(engine_for(get_settings().metadata_url), expire_on_commit=False) as session:
        create_admin(get_settings().keys_dir, "admin", PASSWORD)
        for key, field in ((ALICE, "name"), (BOB, "status")):
            flag_logged(
                session,
                reporter=Reporter("department", USER),
                resource="person",
                record_key=key,
                field=field,
                problem="与户口簿不一致",
                evidence_ref="户口簿 No.1",
            )
        session.commit()
        decide_logged(session, 2, actor_department=POLICE, confirm=False, reason="档案记载无误")
        session.commit()
    return home


@pytest.fixture
def hub(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CorrectionHub:
    return correction_hub(tmp_path, monkeypatch, template=template)


def test_an_admin_sees_flags_by_provider_in_chinese_with_keys_masked(hub: CorrectionHub) -> None:
    with TestClient(create_app()) as client:
        assert sign_in(client, username="admin", password=PASSWORD).status_code == 303
        page = client.get("/monitor/corrections")
    assert page.status_code == 200
    assert "数据纠错" in page.text and "市公安局" in page.text and "待核实" in page.text and "已驳回" in page.text
    assert ALICE not in page.text and "4309" in page.text  # masked for an admin without pii_viewer
    assert not sorted(identifiers(page.text)), sorted(identifiers(page.text))
    english = TestClient(create_app())
    sign_in(english, username="admin", password=PASSWORD)
    assert "By providing department" in english.get("/monitor/corrections?lang=en").text


def test_the_provider_sees_its_flags_and_a_stranger_none(hub: CorrectionHub) -> None:
    with hub.session() as session:
        police_key = issue_api_key(session, POLICE)
        stranger_key = issue_api_key(session, "114309000060124167")
        session.commit()
    with TestClient(create_app()) as client:
        assert sign_in(client, api_key=police_key).status_code == 303
        page = client.get("/monitor/corrections").text
        assert ALICE in page and 'id="correction-1"' in page
    with TestClient(create_app()) as client:
        assert sign_in(client, api_key=stranger_key).status_code == 303
        assert 'id="correction-1"' not in client.get("/monitor/corrections").text


def test_an_unanswered_flag_past_its_due_date_is_an_alert(hub: CorrectionHub) -> None:
    with hub.session() as session:
        found, _ = collect_alerts(session, keys_dir=get_settings().keys_dir)
        assert "correction_overdue" not in {a.kind for a in found}
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
        found, _ = collect_alerts(session, keys_dir=get_settings().keys_dir, now=later)
    (alert,) = [a for a in found if a.kind == "correction_overdue"]
    assert alert.resource == "person" and "#1" in alert.detail and "逾期未答复" in alert.detail_zh
    assert "#2" not in alert.detail  # the rejected flag was answered


def test_the_same_view_as_json_for_a_provider_key(hub: CorrectionHub) -> None:
    with hub.session() as session:
        police_key = issue_api_key(session, POLICE)
        session.commit()
    with TestClient(create_app()) as client:
        answer = client.get("/monitor/api/corrections", headers={"X-API-Key": police_key}).json()
        assert client.get("/monitor/api/corrections").status_code == 401
    (provider,) = answer["providers"]
    assert (provider["provider"], provider["open"], provider["rejected"]) == ("市公安局", 1, 1)
    assert {f["id"] for f in answer["flags"]} == {1, 2}
    assert answer["flags"][0]["raised_at"].endswith("+08:00")  # Beijing time in the API


def test_the_provider_confirms_in_the_browser_and_others_cannot(hub: CorrectionHub) -> None:
    from catalog import get_flag
    from exchange.log import EventType, ExchangeLog
    from tests.monitor_support import csrf_token

    with hub.session() as session:
        police_key = issue_api_key(session, POLICE)
        user_key = issue_api_key(session, USER)
        session.commit()
    with TestClient(create_app()) as client:
        assert sign_in(client, api_key=user_key).status_code == 303
        page = client.get("/monitor/corrections").text
        assert 'id="decide-1"' not in page  # the reporter sees its flag, not the provider's form
        token = csrf_token(client, "/monitor/corrections")
        refused = client.post("/monitor/corrections/1/decision", data={"decision": "confirm", "csrf_token": token})
        assert refused.status_code == 422 and "只有数据提供部门" in refused.text
    with TestClient(create_app()) as client:
        assert sign_in(client, api_key=police_key).status_code == 303
        assert (
            'id="decide-1"' in client.get("/monitor/corrections").text
            and 'id="decide-2"' not in client.get("/monitor/corrections").text
        )  # flag 2 was already answered
        forged = client.post("/monitor/corrections/1/decision", data={"decision": "confirm", "csrf_token": "x"})
        assert forged.status_code == 403
        token = csrf_token(client, "/monitor/corrections")
        done = client.post(
            "/monitor/corrections/1/decision",
            data={"decision": "confirm", "reason": "核实属实", "csrf_token": token},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/monitor/corrections?done=confirm"
        assert "已确认" in client.get(done.headers["location"]).text
    with hub.session() as session:
        assert get_flag(session, 1).status == "confirmed"
        actions = [(e.details["action"], e.outcome) for e in ExchangeLog(session).query(type=EventType.CORRECTION)]
    assert ("confirmed", "ok") in actions and ("decision_refused", "denied") in actions


def test_a_flag_closed_because_its_record_left_says_so(hub: CorrectionHub) -> None:
    from govhub.corrections import check_published

    with hub.session() as session:
        decide_logged(session, 1, actor_department=POLICE, confirm=True, reason="核实属实")
        police_key = issue_api_key(session, POLICE)
        session.commit()
    assert hub.publish({BOB: "李四"}, deleted=[ALICE]) == 1
    assert [f.id for f in check_published("person")] == [1]
    with TestClient(create_app()) as client:
        assert sign_in(client, api_key=police_key).status_code == 303
        row = client.get("/monitor/corrections").text.split('id="correction-1"')[1].split("</tr>")[0]
        assert "版本 1 已不含该记录" in row and "更正于版本" not in row  # not called corrected: the record left
        english = client.get("/monitor/corrections?lang=en").text.split('id="correction-1"')[1].split("</tr>")[0]
        assert "record gone from version 1" in english
        flags = client.get("/monitor/api/corrections", headers={"X-API-Key": police_key}).json()["flags"]
    assert {f["id"]: f["closed_reason"] for f in flags} == {1: "record_left", 2: None}
