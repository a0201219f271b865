"""A provider signs in, refuses one application with reasons and grants another, in headless Chromium offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_driver import browser
from conftest import OTHER_USER, POLICE, USER
from monitor_browser_support import CHROMIUM, serve
from sqlalchemy.orm import Session

from catalog import Subscription, apply, issue_api_key, register_contracts, seed_departments
from govhub.db import engine_for, get_engine, migrate
from govhub.settings import get_settings, reset_settings
from web import create_app

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[int]]]:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    reset_settings()
    migrate()
    with Session(get_engine()) as session:
        seed_departments(session)
        register_contracts(session)
        key = issue_api_key(session, POLICE)
        ids = [
            apply(
                session,
                department_code=department,
                resource="person",
                purpose=f"社保待遇资格认证 {n}",
                legal_basis="《社会保险法》",
                fields=["name", "birth_date"],
                delivery_mode="file",
            ).id
            for n, department in ((1, USER), (2, OTHER_USER))
        ]
        session.commit()
    yield key, ids
    engine_for(get_settings().metadata_url).dispose()
    reset_settings()


def test_a_provider_refuses_and_grants_in_the_browser(hub: tuple[str, list[int]], tmp_path: Path) -> None:
    key, (refused, granted) = hub
    with serve(create_app()) as base, browser(tmp_path / "profile") as tab:
        tab.goto(f"{base}/monitor/login")
        tab.run(f"""(() => {{ const input = document.querySelector('input[name=api_key]');
                    input.value = {json.dumps(key)}; input.form.requestSubmit(); }})()""")
        tab.wait_for("location.pathname === '/monitor'")
        tab.goto(f"{base}/monitor/sharing/{refused}")
        assert "社保待遇资格认证 1" in tab.text() and "个工作日" in tab.text() and "出生日期" in tab.text()
        tab.run("document.querySelector('#reason').value = '出生日期超出资格认证所需范围'")
        tab.run("document.querySelector('#refuse').click()")
        tab.wait_for("document.querySelector('#decided')")
        assert "已答复不予共享" in tab.text() and "出生日期超出资格认证所需范围" in tab.text()
        tab.goto(f"{base}/monitor/sharing/{granted}")
        tab.run("document.querySelector('#approve').click()")
        tab.wait_for("document.querySelector('#decided')")
        assert "已同意共享" in tab.text()
    with Session(get_engine()) as session:
        first, second = session.get(Subscription, refused), session.get(Subscription, granted)
        assert first is not None and first.status == "refused" and first.decided_by == POLICE
        assert first.refusal_reason == "出生日期超出资格认证所需范围"
        assert second is not None and second.status == "granted"
