"""Disputes on the monitor: open ones with age and working days left, decisions, and an alert when overdue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import MARKET, POLICE, USER, Api
from fastapi.testclient import TestClient
from monitor_support import sign_in
from test_disputes_api import _refused
from visible_text import identifiers

from catalog import HUB_ADMIN, decide_dispute, escalate, utcnow
from govhub.settings import get_settings, reset_settings
from web.monitor import create_admin
from web.monitor.alerts import collect_alerts
from web.monitor.auth import Viewer
from web.monitor.disputes import dispute_rows
from web.monitor.i18n import LABELS

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    reset_settings()
    yield
    reset_settings()


def _disputes(api: Api) -> tuple[int, int]:
    """An overdue open dispute (raised a month ago) and a fresh one decided today."""
    late, decided = _refused(api), _refused(api)
    with api.session() as session:
        old = escalate(session, late, actor_department=USER, grounds="履职确需", now=utcnow() - timedelta(days=30))
        new = escalate(session, decided, actor_department=USER, grounds="再次提请")
        decide_dispute(session, new.id, actor=HUB_ADMIN, outcome="upheld", reason="依法不予共享")
        session.commit()
        return old.id, new.id


def _admin(api: Api) -> TestClient:
    create_admin(get_settings().keys_dir, "admin", PASSWORD)
    client = TestClient(api.client.app)
    assert sign_in(client, username="admin", password=PASSWORD).status_code == 303
    return client


def test_the_sharing_page_shows_open_disputes_with_their_countdown_and_the_decisions(api: Api) -> None:
    late, decided = _disputes(api)
    page = _admin(api).get("/monitor/sharing").text
    assert LABELS["disputes"][0] in page and 'id="open-disputes"' in page and 'id="decided-disputes"' in page
    assert "已逾期" in page and "30 天" in page and "依法不予共享" in page and "维持不予共享" in page
    assert identifiers(page) == set()  # nothing untranslated on the Chinese page
    with api.session() as session:
        rows = dispute_rows(session, Viewer(kind="admin", name="admin"))
        assert [r["id"] for r in rows["open"]] == [late] and [r["id"] for r in rows["decided"]] == [decided]
        assert rows["open"][0]["overdue"] and rows["open"][0]["working_days_left"] < -10
        # departments see their own disputes and those about what they provide, no others
        for code, seen in ((USER, 1), (POLICE, 1), (MARKET, 0)):
            mine = dispute_rows(session, Viewer(kind="department", name=code, department_code=code))
            assert len(mine["open"]) == seen


def test_an_overdue_dispute_is_an_alert_in_both_languages(api: Api) -> None:
    late, _ = _disputes(api)
    with api.session() as session:
        alerts, _ = collect_alerts(session, keys_dir=get_settings().keys_dir)
    [alert] = [a for a in alerts if a.kind == "dispute_overdue"]
    assert f"#{late}" in alert.detail_zh and "尽快作出决定" in alert.detail_zh and "decide" in alert.detail
    assert "UTC" not in alert.detail and "Beijing time" in alert.detail  # one clock in both languages
    page = _admin(api).get("/monitor/alerts").text
    assert LABELS["alert_dispute_overdue"][0] in page
    data = _admin(api).get("/monitor/api/sharing").json()
    assert data["disputes"]["open"][0]["due_at"].endswith("+08:00")
