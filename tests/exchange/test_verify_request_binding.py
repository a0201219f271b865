"""The canonical request and the seal algorithm: an integrator checks an answer with exactly the body it sent,
and GOVHUB_SEAL_ALGORITHM chooses the key of the verification routes and of `govhub verify ask`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from exchange.seal import verify_sealed
from exchange.seal_check_reference import check_sealed_answer
from exchange.verify import register_client
from govhub.db import engine_for, migrate
from govhub.settings import reset_settings
from tests.exchange.verify_support import P_LI, P_ZHANG, ServedHub, body, build_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    served = build_hub(tmp_path_factory.mktemp("binding"), algorithm="sm2")
    yield served
    served.service.writer.close()


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(body({"id_number": P_ZHANG}), id="no-item-no-params"),
        pytest.param(body({"id_number": P_ZHANG}, params={}), id="empty-params"),
        pytest.param(body({"id_number": P_ZHANG}) | {"params": None}, id="null-params"),
        pytest.param({"item": "person_alive", **body({"id_number": P_ZHANG}), "params": {}}, id="already-complete"),
    ],
)
def test_the_body_as_sent_checks_the_binding_everywhere(hub: ServedHub, sent: dict, tmp_path: Path) -> None:
    from cli.main import app

    wire = {k: v for k, v in sent.items() if k != "item"}  # the item travels in the URL
    status, doc = hub.service.ask("person_alive", client_key=hub.keys["all"], body=json.dumps(wire))
    assert status == 200, doc
    pem = hub.signer.public_key_pem()
    assert verify_sealed(doc, public_key_pem=pem, request=sent).ok
    assert check_sealed_answer(json.dumps(doc, ensure_ascii=False), pem, sent)[:2] == (True, None)
    (tmp_path / "answer.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "body.json").write_text(json.dumps(sent, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "hub.pub").write_text(pem)
    result = CliRunner().invoke(
        app,
        [
            "seal",
            "verify",
            str(tmp_path / "answer.json"),
            "--public-key",
            str(tmp_path / "hub.pub"),
            "--request",
            str(tmp_path / "body.json"),
        ],
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(body({"id_number": P_LI}), id="another-subject"),
        pytest.param(body({"id_number": P_ZHANG}, params={"on": "2026-01-01"}), id="other-params"),
        pytest.param({"item": "identity_matches", **body({"id_number": P_ZHANG})}, id="another-item"),
    ],
)
def test_a_different_request_is_still_told_apart(hub: ServedHub, other: dict) -> None:
    status, doc = hub.service.ask("person_alive", client_key=hub.keys["all"], body=body({"id_number": P_ZHANG}))
    assert status == 200
    pem = hub.signer.public_key_pem()
    assert verify_sealed(doc, public_key_pem=pem, request=other).reason == "request_hash"
    assert check_sealed_answer(json.dumps(doc), pem, other)[1] == "request_hash"


@pytest.fixture
def ed25519_env(hub: ServedHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """GOVHUB_SEAL_ALGORITHM=ed25519 over the hub's serving stores, with a migrated store and one client."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    with Session(engine_for(url)) as session:
        _, key = register_client(session, client_id="cli", name="命令行", allowed_items=["person_alive"])
        session.commit()
    for name, value in (("GOVHUB_HOME", str(hub.home)), ("GOVHUB_DB_URL", url), ("GOVHUB_SEAL_ALGORITHM", "ed25519")):
        monkeypatch.setenv(name, value)
    reset_settings()
    yield url, key
    monkeypatch.undo()
    reset_settings()


def test_the_routes_and_verify_ask_seal_with_the_configured_algorithm(
    ed25519_env: tuple[str, str], hub: ServedHub, tmp_path: Path
) -> None:
    from cli.main import app
    from web.routes.verify import get_verification_service

    assert get_verification_service().signer.algorithm == "ed25519"
    _, key = ed25519_env
    out = tmp_path / "answer.json"
    args = [
        "verify",
        "ask",
        "person_alive",
        "--client-key",
        key,
        "--case-number",
        "YY-1",
        "--purpose",
        "测试",
        "--subject",
        f"id_number={P_ZHANG}",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["seal"]["algorithm"] == "ed25519"
    pem = (hub.home / "keys" / "hub-ed25519.pub").read_text()
    sent = {"case_number": "YY-1", "purpose": "测试", "subject": {"id_number": P_ZHANG}}
    assert verify_sealed(doc, public_key_pem=pem, request=sent).ok
    forced = CliRunner().invoke(app, [*args[:-2], "--out", str(out), "--algorithm", "sm2"])
    assert forced.exit_code == 0 and json.loads(out.read_text(encoding="utf-8"))["seal"]["algorithm"] == "sm2"
    old = CliRunner().invoke(app, [*[("--case" if a == "--case-number" else a) for a in args]])  # the old spelling
    assert old.exit_code == 0 and "--case is deprecated: use --case-number" in old.output
    refused = CliRunner().invoke(app, [("wrong.key" if a == key else a) for a in args])
    assert refused.exit_code == 1 and "客户端密钥无效" in refused.output and "(invalid_key)" in refused.output
