"""The printed proof names its issuer and check address, and its QR code opens the check page with the answer."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from govhub.settings import reset_settings
from tests.exchange.verify_support import P_ZHANG, ServedHub, body, build_hub
from web.app import create_app
from web.routes.verify import get_verification_service

zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp (the dev extra) decodes the printed QR code")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    served = build_hub(tmp_path_factory.mktemp("proof"), algorithm="sm2")
    yield served
    served.service.writer.close()


@pytest.fixture
def client(hub: ServedHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("GOVHUB_PUBLIC_BASE_URL", "https://data.yiyang.example/")
    reset_settings()
    app = create_app()
    app.dependency_overrides[get_verification_service] = lambda: hub.service
    with TestClient(app) as c:
        yield c
    reset_settings()


def _printed(client: TestClient, hub: ServedHub, lang: str = "zh") -> str:
    answer = client.post(
        "/api/verify/identity_matches",
        headers={"X-Client-Key": hub.keys["all"]},
        json=body({"id_number": P_ZHANG, "name": "张三"}),
    )
    assert answer.status_code == 200
    link = answer.headers["link"].split(">", 1)[0].lstrip("<")
    page = client.get(f"{link}?lang={lang}")
    assert page.status_code == 200
    return page.text


def decode_svg_qr(svg: str) -> str:
    """Rasterise the qrcode package's SVG path (one square per dark module) and decode it with zxing-cpp."""
    from PIL import Image, ImageDraw

    width = float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))  # type: ignore[union-attr]
    squares = re.findall(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H[\d.]+z", svg)
    scale = 800 / width
    image = Image.new("L", (800, 800), 255)
    draw = ImageDraw.Draw(image)
    for x0, y0, x1, y1 in squares:
        draw.rectangle([float(x0) * scale, float(y0) * scale, float(x1) * scale - 1, float(y1) * scale - 1], fill=0)
    found = zxingcpp.read_barcodes(image)
    assert found, "the QR code on the printed proof does not decode"
    return str(found[0].text)


def test_the_proof_names_the_issuer_and_the_absolute_check_address(client: TestClient, hub: ServedHub) -> None:
    page = _printed(client, hub)
    issuer = page.split('id="issuer"')[1].split("</p>")[0]
    assert "出具单位" in issuer and "益阳市政务数据共享交换平台" in issuer
    assert "https://data.yiyang.example/check" in page.split('id="check-at"')[1].split("</p>")[0]
    assert "Yiyang Government Data Sharing and Exchange Platform" in _printed(client, hub, "en")


def test_the_issuer_is_a_setting(client: TestClient, hub: ServedHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVHUB_ISSUER_NAME", "益阳市数据局")
    reset_settings()
    assert "益阳市数据局" in _printed(client, hub).split('id="issuer"')[1].split("</p>")[0]


def test_the_qr_code_is_a_link_to_the_check_page_that_verifies_the_answer(client: TestClient, hub: ServedHub) -> None:
    page = _printed(client, hub)
    link = decode_svg_qr(page.split('id="seal-qr">')[1].split("</div>")[0])
    assert link.startswith("https://data.yiyang.example/check?answer=")
    packed = link.split("answer=", 1)[1]
    sealed = json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
    assert sealed["item"] == "identity_matches" and sealed["seal"]["signature"]
    opened = client.get(link.removeprefix("https://data.yiyang.example"))
    verdict = opened.text.split('id="verdict"')[1].split("</div></div>")[0]
    assert 'data-ok="true"' in verdict and "验证通过" in verdict
    assert sealed["answer"]["case_number"] in opened.text
    switch = opened.text.split("<nav>")[1].split('href="')[1].split('"')[0].replace("&amp;", "&")
    english = client.get(f"/check{switch}")
    assert 'data-ok="true"' in english.text and "Verified" in english.text  # the other language keeps the answer


def test_a_damaged_link_is_not_verified_and_says_why(client: TestClient, hub: ServedHub) -> None:
    page = _printed(client, hub)
    link = decode_svg_qr(page.split('id="seal-qr">')[1].split("</div>")[0])
    packed = link.split("answer=", 1)[1]
    sealed = json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
    sealed["answer"]["match"] = not sealed["answer"]["match"]
    forged = base64.urlsafe_b64encode(json.dumps(sealed, ensure_ascii=False).encode()).decode().rstrip("=")
    verdict = client.get(f"/check?answer={forged}").text.split('id="verdict"')[1]
    assert 'data-ok="false"' in verdict and "签章与内容不符" in verdict
    garbage = client.get("/check?answer=%%%not-base64").text.split('id="verdict"')[1]
    assert 'data-ok="false"' in garbage and "不是有效的电子核验凭证" in garbage
