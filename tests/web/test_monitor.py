"""The monitor over a hub built by the real pipeline on the simulators (built once for the module)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from monitor_browser_support import CHROMIUM, chromium, serve_as_admin
from sqlalchemy import text
from sqlalchemy.orm import Session

from catalog import issue_api_key, record_version
from govhub.db import engine_for, get_engine, migrate
from govhub.demo_sharing import deliver_all, seed_subscriptions
from govhub.exchange_log import hub_log
from govhub.models import IngestRun
from govhub.pipeline import ingest_order, run_ingest
from govhub.settings import get_settings, reset_settings
from schemas import GovhubError
from simulators import CreditSimulator, build_all
from tests.monitor_support import sign_in
from web import create_app
from web.monitor import clear_chain_cache, collect_alerts, create_admin

HRSS = "11430900006012408C"  # 市人社局: receives person by database
HOUSING = "114309000060124167"  # 市住建局: receives legal_entity by file
ADMIN, PASSWORD = "admin", "monitor-pass-1"


@dataclass
class Hub:
    home: Path
    accepted: dict[str, int]
    keys: dict[str, str]


def _env(mp: pytest.MonkeyPatch, home: Path, **extra: str) -> None:
    mp.setenv("GOVHUB_HOME", str(home))
    for name, value in extra.items():
        mp.setenv(f"GOVHUB_{name.upper()}", value)
    reset_settings()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """600 persons with 2 % bad records through ingest and delivery; verification and denial events;
    then the credit platform goes away and the next credit ingest fails (采集失败)."""
    root = tmp_path_factory.mktemp("monitor")
    home = root / "hub"
    sources = build_all(root / "sources", size=600, seed=11, bad_share=0.02)
    with pytest.MonkeyPatch.context() as mp:
        with CreditSimulator(sources.credit_db, token=sources.token, rate_limit=1_000) as credit:
            _env(
                mp,
                home,
                population_url=sources.population_url,
                legal_entity_url=sources.legal_entity_url,
                credit_base_url=credit.base_url,
                credit_token=sources.token,
                credit_timeout="5",
                credit_max_retries="0",
                nontax_inbox=str(sources.inbox),
            )
            migrate()
            seed_subscriptions(home)
            summaries = [run_ingest(resource) for resource in ingest_order()]
            deliver_all([s["resource"] for s in summaries])
        with pytest.raises(GovhubError):  # the platform is gone: the run is marked failed
            run_ingest("credit_record")
        hub_log().append_many(
            [
                {
                    "type": "verification",
                    "source": "hub",
                    "target": "client:bdc-yiyang",
                    "client": "bdc-yiyang",
                    "resource": "person",
                    "purpose": "不动产登记",
                    "case_number": f"BDC-{i}",
                }
                for i in range(3)
            ]
            + [
                {
                    "type": "denial",
                    "source": "hub",
                    "target": "client:unknown",
                    "client": "unknown",
                    "outcome": "denied",
                    "error_code": "bad_key",
                }
            ]
        )
        with Session(get_engine()) as session:
            keys = {code: issue_api_key(session, code) for code in (HRSS, HOUSING)}
            session.commit()
        create_admin(get_settings().keys_dir, ADMIN, PASSWORD)
        clear_chain_cache()
        yield Hub(home=home, accepted={s["resource"]: s["accepted"] for s in summaries}, keys=keys)
        engine_for(get_settings().metadata_url).dispose()
    reset_settings()


@pytest.fixture(scope="module")
def admin(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        answer = sign_in(client, username=ADMIN, password=PASSWORD)
        assert answer.status_code == 303
        yield client


def _department(hub: Hub, code: str) -> TestClient:
    client = TestClient(create_app())
    answer = sign_in(client, api_key=hub.keys[code])
    assert answer.status_code == 303, answer.text
    return client


PAGES = [
    "/monitor",
    "/monitor/exchanges",
    "/monitor/quality",
    "/monitor/quarantine",
    "/monitor/sharing",
    "/monitor/corrections",
    "/monitor/lineage",
    "/monitor/alerts",
    "/monitor/log",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_an_admin_with_the_chain_verified(admin: TestClient, path: str) -> None:
    page = admin.get(path)
    assert page.status_code == 200
    assert "交换日志哈希链已验证 ✓" in page.text
    assert "/static/vendor/echarts.min.js" in page.text


def test_overview_shows_the_runs_numbers_and_the_failed_source(admin: TestClient, hub: Hub) -> None:
    page = admin.get("/monitor").text
    person = page.split('id="status-person"')[1].split("</tr>")[0]
    assert f"{hub.accepted['person']:,}" in person
    credit = page.split('id="status-credit_record"')[1].split("</tr>")[0]
    assert "采集失败" in credit
    assert 'id="quality-person"' in page
    english = admin.get("/monitor?lang=en").text
    assert "Ingest failed" in english and "Accepted" in english


def test_lineage_page_follows_source_to_versions_deliveries_and_openlineage(admin: TestClient) -> None:
    page = admin.get("/monitor/lineage?resource=person").text
    flow = page.split('class="flow"')[1].split("</p>")[0]
    assert "人口基础信息库" in flow and "市公安局" in flow and "人口基础信息" in flow
    assert "person-000001-" in page  # the run that made version 0
    assert "snapshot" not in page and "∅ → 0" in page  # the first delivery was the full snapshot
    assert "ingest_person" in page and "<td>完成</td>" in page  # OpenLineage events of the runs (COMPLETE)


def test_static_echarts_is_served_locally(admin: TestClient) -> None:
    script = admin.get("/static/vendor/echarts.min.js")
    assert script.status_code == 200 and "echarts" in script.text[:2000]


def test_pages_need_a_sign_in_and_the_api_answers_401(hub: Hub) -> None:
    with TestClient(create_app()) as anonymous:
        for path in PAGES:
            answer = anonymous.get(path, follow_redirects=False)
            assert answer.status_code == 302 and answer.headers["location"].startswith("/monitor/login")
        assert anonymous.get("/monitor/api/overview").status_code == 401
        assert anonymous.get("/monitor/quarantine.csv", follow_redirects=False).status_code == 302
        wrong = sign_in(anonymous, username=ADMIN, password="not-the-password")
        assert wrong.status_code == 401 and "不正确" in wrong.text
        anonymous.cookies.set("govhub_monitor", "forged.cookie.value", path="/monitor")
        assert anonymous.get("/monitor", follow_redirects=False).status_code == 302


def test_json_endpoints_are_in_openapi_and_carry_the_numbers(admin: TestClient, hub: Hub) -> None:
    paths = admin.get("/openapi.json").json()["paths"]
    for name in ("overview", "quality", "exchanges", "sharing", "alerts", "chain", "log"):
        assert f"/monitor/api/{name}" in paths
    overview = {r["resource"]: r for r in admin.get("/monitor/api/overview").json()["data"]}
    assert overview["credit_record"]["last_status"] == "failed"
    volume = admin.get("/monitor/api/exchanges").json()
    assert set(volume["by_source"]) >= {"population", "legal_entity", "nontax", "credit"}
    assert "市人社局" in volume["by_department"] and "bdc-yiyang" in volume["by_client"]
    quality = admin.get("/monitor/api/quality?resource=person").json()["data"]["person"]
    assert quality[0]["version"] == 0 and set(quality[0]["scores"]) >= {"completeness", "accuracy"}


def test_a_department_sees_only_its_own_exchanges(hub: Hub) -> None:
    with _department(hub, HRSS) as hrss:
        events = hrss.get("/monitor/api/log?per_page=500").json()
        assert events["total"] >= 1
        assert {e["department"] for e in events["data"]} == {HRSS}
        page = hrss.get("/monitor/log").text
        assert "市人社局" in page and "市住建局" not in page and "bdc-yiyang" not in page
        volume = hrss.get("/monitor/api/exchanges").json()
        assert set(volume["by_department"]) == {"市人社局"} and not volume["by_client"]
        sharing = hrss.get("/monitor/api/sharing").json()
        assert {d["department"] for d in sharing["deliveries"]} == {"市人社局"}
        assert hrss.get("/monitor/alerts", follow_redirects=False).status_code == 403
        assert "无数据" in hrss.get("/monitor/quarantine").text  # a user department provides nothing
    api_only = TestClient(create_app())  # the JSON answers a department's X-API-Key too
    rows = api_only.get("/monitor/api/log", headers={"X-API-Key": hub.keys[HOUSING]}).json()["data"]
    assert rows and {e["department"] for e in rows} == {HOUSING}


def test_quarantine_page_and_csv_have_the_rows_with_reasons(admin: TestClient) -> None:
    page = admin.get("/monitor/quarantine?resource=person&rule=required").text
    assert "姓名为必填项" in page and "拒收原因汇总" in page
    answer = admin.get("/monitor/quarantine.csv?resource=person")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows and {r["resource"] for r in rows} == {"person"}
    assert {"required", "gb11643"} <= {r["rule"] for r in rows}
    assert all(r["message"] and r["row_key"] for r in rows)
    only = list(csv.DictReader(io.StringIO(admin.get("/monitor/quarantine.csv?resource=person&rule=gb11643").text)))
    by_key: dict[str, set[str]] = {}
    for r in only:
        by_key.setdefault(r["row_key"] + r["run_id"], set()).add(r["rule"])
    assert by_key and all("gb11643" in rules for rules in by_key.values())
    assert len(only) < len(rows)


def test_sharing_and_log_pages_show_deliveries_and_filter(admin: TestClient) -> None:
    sharing = admin.get("/monitor/sharing").text
    assert "市人社局" in sharing and "<td>库表</td>" in sharing  # the database delivery mode, in words
    deliveries = admin.get("/monitor/log?type=delivery").text
    assert "<td>交付</td>" in deliveries and "<td>采集</td>" not in deliveries
    denied = admin.get("/monitor/log?outcome=denied").text
    assert "未知客户端（密钥无效）" in denied and "密钥无效" in denied
    english = admin.get("/monitor/log?outcome=denied&lang=en").text
    assert "<td>denial</td>" in english and "bad key" in english
    later = admin.get("/monitor/log?since=2999-01-01T00:00").text
    assert "无数据" in later
    elsewhere = admin.get("/monitor/log?address=203.0.113.9").text
    assert "无数据" in elsewhere and 'name="address" value="203.0.113.9"' in elsewhere
    assert admin.get("/monitor/api/log?address=203.0.113.9").json()["total"] == 0


def test_alerts_show_the_failed_run_and_a_tampered_log_row_as_a_chain_break(admin: TestClient, hub: Hub) -> None:
    page = admin.get("/monitor/alerts").text
    assert "alert-failed_run" in page and "credit_record" in page
    engine = get_engine()
    with engine.begin() as conn:
        seq, event_id, rows = conn.execute(
            text("SELECT seq, event_id, rows FROM exchange_event WHERE type = 'publish' ORDER BY seq LIMIT 1")
        ).one()
        conn.execute(text("UPDATE exchange_event SET rows = :r WHERE seq = :s"), {"r": rows + 1, "s": seq})
    try:
        page = admin.get("/monitor/alerts").text
        assert "交换日志哈希链断裂 ✗" in page and event_id in page and "alert-chain" in page
        assert "交换日志哈希链断裂 ✗" in admin.get("/monitor").text  # every header, from the fresh walk
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE exchange_event SET rows = :r WHERE seq = :s"), {"r": rows, "s": seq})
        clear_chain_cache()


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    _env(monkeypatch, tmp_path / "empty")
    migrate()
    create_admin(get_settings().keys_dir, ADMIN, PASSWORD)
    clear_chain_cache()
    yield tmp_path / "empty"
    engine_for(get_settings().metadata_url).dispose()
    clear_chain_cache()
    reset_settings()


def test_an_empty_hub_says_no_data(empty_home: Path) -> None:
    with TestClient(create_app()) as client:
        assert sign_in(client, username=ADMIN, password=PASSWORD).status_code == 303
        for path in PAGES:
            page = client.get(path)
            assert page.status_code == 200, path
            assert ("无数据" in page.text) or ("无告警" in page.text), path
        assert "No data" in client.get("/monitor/exchanges?lang=en").text


def test_quality_drops_and_denial_spikes_raise_alerts(empty_home: Path) -> None:
    def card(score: float) -> dict:
        return {"dimensions": [{"dimension": "completeness", "score": score}, {"dimension": "accuracy", "score": 0.99}]}

    with Session(get_engine()) as session:
        for version, score in ((0, 0.99), (1, 0.90)):
            record_version(
                session,
                resource="person",
                version=version,
                run_id=f"r{version}",
                schema_fingerprint="x",
                scorecard=card(score),
            )
        session.add(IngestRun(run_id="person-x", resource="person", seq=1, status="succeeded"))
        session.commit()
    denials = [{"type": "denial", "source": "hub", "target": "client:x", "client": "x", "outcome": "denied"}] * 5
    hub_log().append_many(denials)
    with Session(get_engine()) as session:
        alerts, report = collect_alerts(session, keys_dir=get_settings().keys_dir, denial_threshold=4)
        assert report.ok
        kinds = {a.kind: a for a in alerts}
        assert "completeness: v0 0.990 → v1 0.900" in kinds["quality_drop"].detail
        assert "accuracy" not in kinds["quality_drop"].detail
        assert kinds["denials"].detail.startswith("5 denied")
        quiet, _ = collect_alerts(session, keys_dir=get_settings().keys_dir)  # default threshold 20
        assert "denials" not in {a.kind for a in quiet}


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_overview_charts_render_in_headless_chromium(hub: Hub, tmp_path: Path) -> None:
    with serve_as_admin() as base:
        dom = chromium(f"{base}/monitor", tmp_path / "profile")
    assert "人口基础信息" in dom
    chart = dom.split('id="quality-person"')[1].split("</div></div>")[0]
    assert "<canvas" in chart, "ECharts did not draw the person quality chart"
