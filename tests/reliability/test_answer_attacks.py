"""Attacks on issued verification answers: reading another client's answer, guessing the printable page's
link, false "different request" alarms, and a seal algorithm other than the configured one.

Every attack is counted in the ledger ("attacks"). Reading an answer needs the asking client's key (401
without, 404 for another client's or an unknown id, alike so ids cannot be probed; both logged); the
printable page needs the token of the link the asking client was given.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from exchange.seal import verify_sealed
from exchange.seal_check_reference import check_sealed_answer
from tests.exchange.verify_support import P_LI, P_ZHANG, body
from tests.reliability.attack_hub import AttackHub, attack_hub
from tests.reliability.attack_kit import Tally
from tests.reliability.ledger import record


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttackHub]:
    with attack_hub(tmp_path_factory.mktemp("answer-attacks")) as built:
        yield built


@pytest.fixture(scope="module")
def issued(hub: AttackHub) -> list[dict[str, Any]]:
    """Answers the client 'all' asked for: {doc, text, link, sent} each."""
    out = []
    for i, subject in enumerate([{"id_number": P_ZHANG}, {"id_number": P_LI}] * 3):
        sent = body(subject) | {"case_number": f"YY-ATTACK-{i}"}
        r = hub.client.post("/api/verify/person_alive", headers={"X-Client-Key": hub.client_keys["all"]}, json=sent)
        assert r.status_code == 200, r.text
        link = r.headers["link"].split(">", 1)[0].lstrip("<")
        out.append({"doc": r.json(), "text": r.text, "link": link, "sent": sent})
    return out


def _finish(tally: Tally, case: str, **figures: Any) -> None:
    record("attacks", case, tried=tally.tried, held=tally.held, **tally.figures(), **figures)
    assert tally.tried > 0
    assert tally.held == tally.tried, tally.report()


def _secret_of(answer: dict[str, Any]) -> list[str]:
    """What only the asking client may read: its case number and the seal (the answer itself)."""
    return [answer["doc"]["answer"]["case_number"], answer["doc"]["seal"]["root"]]


def test_an_answer_is_read_only_with_the_asking_clients_key(hub: AttackHub, issued: list[dict[str, Any]]) -> None:
    tally = Tally("answer read by another", hub.protected)
    keys = [
        ("no key", None),
        ("another client's key", hub.client_keys["narrow"]),
        ("a third client's key", hub.client_keys["slow"]),
        ("a department's key as client key", hub.keys["user"]),
        ("forged secret for the asking client", f"all.{secrets.token_urlsafe(32)}"),
        (
            "asking client's key with one character changed",
            hub.client_keys["all"][:-1] + "A"
            if hub.client_keys["all"][-1] != "A"
            else hub.client_keys["all"][:-1] + "B",
        ),
        ("client id alone", "all"),
    ]
    for answer in issued:
        answer_id = answer["doc"]["answer"]["answer_id"]
        for how, key in keys:
            before = hub.last_seq()
            headers = {"X-Client-Key": key} if key else {}
            response = hub.client.get(f"/api/verify/answers/{answer_id}", headers=headers)
            shown = [v for v in _secret_of(answer) if v in response.text]
            tally.judge(
                f"read {answer_id[:8]} with {how}",
                response,
                hub.events_after(before),
                expect=lambda s: s in (401, 404),
                must_log=True,
                problem=f"the answer shows {shown}" if shown else None,
            )
    for forged in ("00000000-0000-0000-0000-000000000000", "x" * 400, "' OR 1=1 --", "凭证编号"):
        before = hub.last_seq()
        response = hub.client.get(f"/api/verify/answers/{forged}", headers={"X-Client-Key": hub.client_keys["all"]})
        tally.judge(
            f"read unknown id {forged[:20]!r}",
            response,
            hub.events_after(before),
            expect=lambda s: s == 404,
            must_log=True,
        )
    owner = hub.client.get(
        f"/api/verify/answers/{issued[0]['doc']['answer']['answer_id']}",
        headers={"X-Client-Key": hub.client_keys["all"]},
    )
    assert owner.status_code == 200 and owner.json() == issued[0]["doc"]
    _finish(tally, "answer read without the asking client's key", answers=len(issued), keys=len(keys))


def test_the_printable_page_is_reached_only_through_its_link(hub: AttackHub, issued: list[dict[str, Any]]) -> None:
    tally = Tally("printable page guessed", hub.protected)
    for i, answer in enumerate(issued):
        answer_id = answer["doc"]["answer"]["answer_id"]
        token = answer["link"].rsplit("/", 1)[1]
        neighbour = issued[(i + 1) % len(issued)]["link"].rsplit("/", 1)[1]
        guesses = [
            ("the answer id alone (printed on the proof)", f"/verify/answer/{answer_id}"),
            ("a zero token", f"/verify/answer/{answer_id}/{'0' * 32}"),
            ("another answer's token", f"/verify/answer/{answer_id}/{neighbour}"),
            ("the token cut short", f"/verify/answer/{answer_id}/{token[:16]}"),
            ("the token upper-cased", f"/verify/answer/{answer_id}/{token.upper()}"),
            ("a random token", f"/verify/answer/{answer_id}/{secrets.token_hex(16)}"),
            ("the answer's seal root as token", f"/verify/answer/{answer_id}/{answer['doc']['seal']['root'][:32]}"),
        ]
        for how, path in guesses:
            response = hub.client.get(path)
            shown = [v for v in _secret_of(answer) if v in response.text]
            tally.judge(
                f"page of {answer_id[:8]} by {how}",
                response,
                [],
                expect=lambda s: s == 404,
                must_log=False,
                problem=f"the page shows {shown}" if shown else None,
            )
        page = hub.client.get(answer["link"])
        assert page.status_code == 200 and answer["doc"]["answer"]["case_number"] in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
    _finish(tally, "printable page without its link", answers=len(issued))


def test_the_body_as_sent_is_never_a_different_request(hub: AttackHub, issued: list[dict[str, Any]]) -> None:
    """Integrators' ways of saving the request all check; a changed subject, case or item still fails."""
    pem = hub.client.get("/api/verify/public-key").json()["public_key_pem"]
    tried = held = 0
    for answer in issued:
        sent = answer["sent"]
        same = [
            sent,
            sent | {"params": {}},
            sent | {"params": None},
            {"item": "person_alive", **sent},
            dict(reversed(list(sent.items()))),
        ]
        different = [
            sent | {"subject": {"id_number": P_LI if sent["subject"]["id_number"] == P_ZHANG else P_ZHANG}},
            sent | {"case_number": "YY-OTHER"},
            {"item": "identity_matches", **sent},
            sent | {"params": {"on": "2026-01-01"}},
        ]
        for request in same + different:
            tried += 1
            expect_ok = request in same
            ours = verify_sealed(answer["text"], public_key_pem=pem, request=request)
            theirs = check_sealed_answer(answer["text"], pem, request)
            served = hub.client.post("/api/check", json={"document": answer["text"], "request": request}).json()
            if ours.ok == theirs[0] == served["ok"] == expect_ok:
                held += 1
    record(
        "attacks",
        "sealed answer checked with the body as sent",
        tried=tried,
        held=held,
        false_alarms=0 if held == tried else "see test output",
    )
    assert held == tried


def test_the_configured_seal_algorithm_seals(hub: AttackHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """GOVHUB_SEAL_ALGORITHM decides the key of the verification routes (the app's own service)."""
    from govhub.settings import reset_settings
    from web.routes.verify import get_verification_service

    tried = held = 0
    for algorithm in ("ed25519", "sm2"):
        monkeypatch.setenv("GOVHUB_SEAL_ALGORITHM", algorithm)
        reset_settings()
        tried += 1
        held += get_verification_service().signer.algorithm == algorithm
    monkeypatch.delenv("GOVHUB_SEAL_ALGORITHM")
    reset_settings()
    record("attacks", "seal algorithm other than configured", tried=tried, held=held)
    assert held == tried
    assert json.loads(json.dumps(held)) == tried
