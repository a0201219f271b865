"""The API docs and the landing page work on an intranet: every asset from the hub, drawn in Chromium offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from monitor_browser_support import CHROMIUM, chromium, serve_as_admin

from web import create_app

_VENDOR = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor"


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/", "/?lang=en"])
def test_pages_load_nothing_from_outside_the_hub(path: str) -> None:
    page = TestClient(create_app()).get(path)
    assert page.status_code == 200
    urls = _asset_urls(page.text)
    assert urls, "the page links nothing"
    assert [u for u in urls if not u.startswith("/")] == []
    assert "fonts.googleapis" not in page.text and "cdn.jsdelivr" not in page.text


def test_vendored_assets_are_served_with_their_licences() -> None:
    client = TestClient(create_app())
    for path in ["/docs", "/redoc"]:
        for url in _asset_urls(client.get(path).text):
            assert client.get(url).status_code == 200, url
    for licence in ["swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE"]:
        assert (_VENDOR / licence).stat().st_size > 50, licence


def test_landing_page_links_every_door_chinese_first() -> None:
    client = TestClient(create_app())
    zh = client.get("/").text
    assert "益阳市政务数据共享交换平台" in zh and 'lang="zh-CN"' in zh
    for target in [
        'href="/monitor"',
        'href="/docs"',
        'href="/redoc"',
        'href="/check?lang=zh"',
        'href="/api/verify/public-key"',
    ]:
        assert target in zh, target
    en = client.get("/?lang=en").text
    assert "Check a sealed answer" in en and 'href="/monitor?lang=en"' in en


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_swagger_ui_and_redoc_render_in_chromium_with_the_network_cut(tmp_path: Path) -> None:
    with serve_as_admin() as base:
        swagger = chromium(f"{base}/docs", tmp_path / "swagger")
        redoc = chromium(f"{base}/redoc", tmp_path / "redoc")
        landing = chromium(f"{base}/", tmp_path / "landing")
    # Swagger UI drew the operations it read from /openapi.json
    assert 'class="swagger-ui' in swagger and "opblock" in swagger
    assert "/api/verify/{item}" in swagger
    # ReDoc drew the API title and an operation
    assert "/api/verify/{item}" in redoc and "govhub" in redoc
    assert "api-content" in redoc or "operation" in redoc
    assert "接口文档" in landing and "核验结果查验" in landing
