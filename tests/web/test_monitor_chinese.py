"""The Chinese monitor speaks Chinese: no visible text is an untranslated identifier or English sentence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from test_monitor import ADMIN, PAGES, PASSWORD, Hub, hub  # noqa: F401 (the module's hub fixture)
from visible_text import identifiers

from tests.monitor_support import sign_in
from web import create_app


@pytest.fixture(scope="module")
def admin_zh(hub: Hub) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app()) as client:
        answer = sign_in(client, username=ADMIN, password=PASSWORD)
        assert answer.status_code == 303
        yield client


@pytest.mark.parametrize(
    "path",
    [
        *PAGES,
        "/monitor/quarantine?resource=person",
        "/monitor/lineage?resource=legal_entity",
        "/monitor/quality?resource=legal_entity&version=0",
        "/monitor/log?type=verification",
        "/monitor/log?outcome=invalid",
        "/monitor/runs/person-999999-missing",
        "/monitor/log?type=denial",
        "/monitor/log?outcome=denied",
        "/monitor/login",
        "/monitor/catalogue",
        "/monitor/catalogue/person/apply",
        "/",
        "/check",
    ],
)
def test_no_visible_text_of_a_chinese_page_is_an_untranslated_identifier(admin_zh: TestClient, path: str) -> None:
    page = admin_zh.get(path)
    assert page.status_code == (404 if "missing" in path else 200)
    found = sorted(identifiers(page.text))
    assert not found, f"untranslated on {path}: {found}"


def test_a_provider_sees_the_deliveries_of_its_own_data(hub: Hub) -> None:  # noqa: F811
    from sqlalchemy.orm import Session

    from catalog import issue_api_key
    from govhub.db import get_engine

    police = "11430900006012344E"  # provides person, which 市人社局 receives
    with Session(get_engine()) as session:
        key = issue_api_key(session, police)
        session.commit()
    with TestClient(create_app()) as client:
        assert sign_in(client, api_key=key).status_code == 303
        delivered = client.get("/monitor/api/sharing").json()["deliveries"]
        assert {d["department"] for d in delivered if d["resource"] == "person"} >= {"市人社局"}
        assert {d["resource"] for d in delivered} == {"person"}  # not the other providers' data
