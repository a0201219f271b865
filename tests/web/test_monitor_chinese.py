"""The Chinese monitor speaks Chinese: no visible text is an untranslated identifier or English sentence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from test_monitor import ADMIN, PAGES, PASSWORD, Hub, hub  # noqa: F401 (the module's hub fixture)
from visible_text import identifiers

from web import create_app


@pytest.fixture(scope="module")
def admin_zh(hub: Hub) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app()) as client:
        answer = client.post("/monitor/login", data={"username": ADMIN, "password": PASSWORD}, follow_redirects=False)
        assert answer.status_code == 303
        yield client


@pytest.mark.parametrize(
    "path",
    [*PAGES, "/monitor/quarantine?resource=person", "/monitor/lineage?resource=legal_entity",
     "/monitor/log?type=denial", "/monitor/log?outcome=denied", "/monitor/login", "/monitor/catalogue",
     "/monitor/catalogue/person/apply", "/", "/check"],
)  # fmt: skip
def test_no_visible_text_of_a_chinese_page_is_an_untranslated_identifier(admin_zh: TestClient, path: str) -> None:
    page = admin_zh.get(path)
    assert page.status_code == 200
    found = sorted(identifiers(page.text))
    assert not found, f"untranslated on {path}: {found}"
