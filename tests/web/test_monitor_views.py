"""The monitor as an auditor's and data administrator's tool: quality with GX results, Data Docs offline,
lineage as a graph with run pages, the exchange log's case numbers, purposes, items and addresses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from monitor_browser_support import CHROMIUM, chromium, serve_as_admin
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_monitor import ADMIN, HRSS, PASSWORD, Hub, empty_home, hub  # noqa: F401 (the module's fixtures)
from visible_text import identifiers

from catalog import record_version
from govhub.db import get_engine
from govhub.exchange_log import hub_log
from govhub.models import QualityReport
from govhub.settings import get_settings
from quality.data_docs import external_links
from tests.monitor_support import sign_in
from web import create_app
from web.monitor import collect_alerts


@pytest.fixture(scope="module")
def admin(hub: Hub) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app()) as client:
        assert sign_in(client, username=ADMIN, password=PASSWORD).status_code == 303
        yield client


def _docs_page(admin: TestClient) -> str:
    """The quality page's link to its version's Data Docs validation page."""
    page = admin.get("/monitor/quality?resource=person").text
    return page.split('class="docs-page"')[0].rsplit('href="', 1)[1].split('"')[0]


def _chart(page: str, call: str) -> dict:
    return json.loads(page.split(f"govhubMonitor.{call}(")[1].split(");\n")[0])


def test_the_quality_page_reads_each_expectation_in_chinese(admin: TestClient) -> None:
    page = admin.get("/monitor/quality?resource=person").text
    table = page.split('class="grid small expectations"')[1].split("</table>")[0]
    assert "字段值不为空" in table and "字段值唯一" in table and "公民身份号码" in table
    assert "通过" in table and "不符合" in table and "共" in table  # observed: unexpected of total rows
    assert "suite-verdict" in page and 'class="docs-page"' in page and "本次采集的增量" in page
    english = admin.get("/monitor/quality?resource=person&lang=en").text
    assert "values not null" in english and "Dataset expectations" in english
    assert admin.get("/monitor/quality?resource=person&version=0").status_code == 200


def test_timeliness_and_the_overview_agree(admin: TestClient) -> None:
    """Every source was read on its cycle: the overview says 及时 and timeliness reads 1.0, not 1/age."""
    overview = {r["resource"]: r for r in admin.get("/monitor/api/overview").json()["data"]}
    quality = admin.get("/monitor/api/quality").json()["data"]
    for resource in ("person", "legal_entity", "payment"):
        assert overview[resource]["freshness"] == "fresh"
        assert quality[resource][-1]["scores"]["timeliness"] == 1.0, resource
    page = admin.get("/monitor/quality?resource=person").text
    assert "1.000" in page.split('id="score-timeliness"')[1].split("</tr>")[0]


def test_the_lineage_graph_names_departments_and_links_full_run_ids(admin: TestClient) -> None:
    page = admin.get("/monitor/lineage?resource=person").text
    graph = _chart(page, "lineageGraph")
    names = {n["name"] for n in graph["nodes"]}
    assert "人口基础信息库" in names and "市人社局" in names
    assert not any(re.fullmatch(r"[0-9A-Z]{18}", n) for n in names)  # departments by name, never by code
    runs = [n["href"] for n in graph["nodes"] if n.get("href")]
    assert runs and len(set(runs)) == len(runs) and all(h.startswith("/monitor/runs/person-") for h in runs)
    assert any(link["label"].startswith("库表") for link in graph["links"])  # delivery mode and rows in words
    assert 'class="run-link"' in page and runs[0].rsplit("/", 1)[1] in page  # the full run id, linked
    menu = page.split('name="resource"')[1].split("</select>")[0]
    assert '<option value="person" selected>人口基础信息</option>' in menu  # resources by name in the menu


def test_a_run_page_shows_the_run_and_an_unknown_run_is_404(admin: TestClient, hub: Hub) -> None:  # noqa: F811
    graph = _chart(admin.get("/monitor/lineage?resource=person").text, "lineageGraph")
    href = next(n["href"] for n in graph["nodes"] if n.get("href"))
    page = admin.get(href)
    facts = page.text.split('id="run-facts"')[1].split("</table>")[0]
    assert page.status_code == 200 and "人口基础信息" in facts and f"{hub.accepted['person']:,}" in facts
    assert "版本 0" in facts and "采集" in facts
    assert identifiers(page.text) == set()  # a Chinese page in words (run ids sit in translate="no")
    missing = admin.get("/monitor/runs/person-999999-none")
    assert missing.status_code == 404 and "未找到该运行" in missing.text


def test_the_log_shows_case_purpose_item_and_address_for_an_auditor(admin: TestClient) -> None:
    hub_log().append_many(
        [
            {
                "type": "verification",
                "source": "hub",
                "target": "client:bdc-yiyang",
                "client": "bdc-yiyang",
                "resource": "person",
                "purpose": "不动产转移登记",
                "case_number": "BDC-2026-0042",
                "details": {"item": "person_alive", "status": 200, "address": "10.8.1.23"},
            },
            {
                "type": "denial",
                "source": "hub",
                "target": "address:10.8.1.99",
                "outcome": "denied",
                "error_code": "invalid_key",
                "rows": 3,
                "details": {
                    "address": "10.8.1.99",
                    "count": 3,
                    "keys": [{"key_fingerprint": "9f86d081884c7d65", "key_id": "bdc-yiyang"}],
                },
            },
        ]
    )
    page = admin.get("/monitor/log?case_number=BDC-2026-0042").text
    row = page.split('class="event')[1].split("</tr>")[0]
    assert "BDC-2026-0042" in row and "不动产转移登记" in row and "10.8.1.23" in row
    assert "生存状态核验" in row and "person_alive" not in row  # the item by its catalogue name
    denied = admin.get("/monitor/log?outcome=denied").text
    assert "9f86d081884c7d65" in denied and "地址" in denied and "10.8.1.99" in denied
    assert "client:unknown" not in denied.split("<tbody>")[1]


def test_client_mistakes_never_feed_the_denial_spike(empty_home: Path) -> None:  # noqa: F811
    mistakes = [{"type": "client_error", "source": "hub", "target": "address:x", "outcome": "invalid"}] * 30
    hub_log().append_many([*mistakes, {"type": "denial", "source": "hub", "target": "x", "outcome": "denied"}])
    with Session(get_engine()) as session:
        alerts, _ = collect_alerts(
            session, keys_dir=get_settings().keys_dir, denial_threshold=20, client_error_threshold=20
        )
    kinds = {a.kind: a for a in alerts}
    assert "denials" not in kinds
    assert (
        kinds["client_errors"].detail.startswith("30 client errors")
        and "不计入拒绝访问" in kinds["client_errors"].detail_zh
    )


def test_a_failed_suite_is_an_alert_in_words(empty_home: Path) -> None:  # noqa: F811
    failed = {
        "resource": "legal_entity",
        "suite": "govhub.legal_entity",
        "success": False,
        "total_rows": 20,
        "evaluated_rows": 20,
        "sampled": False,
        "results": [
            {
                "expectation": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "status", "value_set": ["1", "2", "3", "4"]},
                "severity": "critical",
                "meta": {},
                "success": False,
                "result": {"element_count": 20, "unexpected_count": 1, "unexpected_percent": 5.0},
                "exception": None,
            }
        ],
        "statistics": {},
        "seconds": 0.1,
        "gx_version": "1.5",
    }
    with Session(get_engine()) as session:
        record_version(session, resource="legal_entity", version=0, run_id="le-1", schema_fingerprint="x")
        session.add(
            QualityReport(run_id="le-1", resource="legal_entity", version=0, suite_success=False, suite_result=failed)
        )
        passed = {**failed, "success": True, "scope": "version", "results": []}  # the scheduled full check passed
        session.add(
            QualityReport(
                run_id="legal_entity-suite-000000",
                resource="legal_entity",
                version=0,
                suite_success=True,
                suite_result=passed,
            )
        )
        session.commit()
        alerts, _ = collect_alerts(session, keys_dir=get_settings().keys_dir)
    [suite] = [a for a in alerts if a.kind == "suite_failed"]  # the failed one, not the passed check
    assert suite.resource == "legal_entity" and "1 expectation(s) failed" in suite.detail
    assert "取值在代码表内（登记状态）" in suite.detail_zh


def test_data_docs_are_built_from_the_stored_results_and_load_nothing_from_outside(admin: TestClient) -> None:
    first = admin.get("/monitor/data-docs", follow_redirects=False)
    assert first.status_code == 302 and first.headers["location"] == "/monitor/data-docs/index.html"
    index = admin.get("/monitor/data-docs/index.html")
    assert index.status_code == 200 and "govhub.person" in index.text
    assert "'unsafe-inline'" in index.headers["content-security-policy"]
    site = get_settings().resolved_home / "quality" / "data_docs"
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 5
    for page in pages:
        assert external_links(page.read_text(encoding="utf-8")) == [], page
    assert "/static/vendor/datadocs/js/jquery.min.js" in index.text
    assert admin.get("/static/vendor/datadocs/js/jquery.min.js").status_code == 200
    assert admin.get("/monitor/data-docs/../../keys/monitor-admins.json").status_code == 404
    assert admin.get(_docs_page(admin)).status_code == 200  # the version's own validation page


def test_departments_may_not_open_the_data_docs(hub: Hub) -> None:  # noqa: F811
    with TestClient(create_app()) as client:
        assert sign_in(client, api_key=hub.keys[HRSS]).status_code == 303
        assert client.get("/monitor/data-docs/index.html").status_code == 403
        assert 'class="docs-page"' not in client.get("/monitor/quality?resource=person").text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_lineage_graph_and_quality_multiples_draw_offline(hub: Hub, tmp_path: Path) -> None:  # noqa: F811
    with serve_as_admin() as base:
        lineage = chromium(f"{base}/monitor/lineage?resource=person", tmp_path / "a")
        quality = chromium(f"{base}/monitor/quality?resource=person", tmp_path / "b")
    assert "<canvas" in lineage.split('id="lineage-graph"')[1].split("</div></div>")[0]
    assert "<canvas" in quality.split('id="quality-person"')[1].split("</div></div>")[0]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_data_docs_work_in_chromium_with_the_network_cut(admin: TestClient, hub: Hub, tmp_path: Path) -> None:  # noqa: F811
    from browser_driver import browser

    docs_page = _docs_page(admin)
    with serve_as_admin() as base, browser(tmp_path / "profile") as tab:
        tab.goto(f"{base}{docs_page}")
        tab.wait_for("typeof jQuery === 'function' && typeof jQuery.fn.bootstrapTable === 'function'")
        loaded = tab.run("performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(base) for url in loaded), loaded
        assert "expect_column_values_to_not_be_null" in tab.text() or "not be null" in tab.text().lower()
        assert tab.run("getComputedStyle(document.body).fontSize") == "16px"  # Bootstrap's reboot applied
        tab.goto(f"{base}/monitor/data-docs/index.html")
        tab.wait_for("document.body.innerText.includes('govhub.person')")  # bootstrap-table fills the index


def test_the_command_line_builds_the_data_docs(hub: Hub) -> None:  # noqa: F811
    from typer.testing import CliRunner

    from web.monitor.cli import app

    done = CliRunner().invoke(app, ["data-docs"])
    assert done.exit_code == 0, done.output
    assert (get_settings().resolved_home / "quality" / "data_docs" / "index.html").exists()


def test_a_new_version_renders_only_its_page_and_a_removal_rebuilds_whole(admin: TestClient) -> None:
    from web.monitor.data_docs import ensure_built

    with Session(get_engine()) as session:
        site = ensure_built(session)
        old_page = next(site.rglob("v0.html"))
        before = old_page.stat().st_mtime_ns
        newest = session.scalars(select(QualityReport).where(QualityReport.resource == "person")).all()[-1]
        session.add(
            QualityReport(
                run_id="person-999999-added",
                resource="person",
                version=999,
                suite_success=True,
                suite_result=newest.suite_result,
            )
        )
        session.commit()
        ensure_built(session)
        assert list(site.rglob("person-999999-added/*/v999.html")) and "person-999999-added" in (
            site / "index.html"
        ).read_text(encoding="utf-8")
        assert old_page.stat().st_mtime_ns == before  # not rendered again
        assert all(external_links(p.read_text(encoding="utf-8")) == [] for p in site.rglob("*.html"))
        session.delete(session.get(QualityReport, "person-999999-added"))
        session.commit()
        ensure_built(session)
        assert not list(site.rglob("person-999999-added/*/v999.html"))
