"""GET /api/access-record: only the IdP's assertion for the same person opens it; every refusal is clear and logged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import USER, Api
from sqlalchemy import insert
from visible_text import identifiers

from exchange.access import SubjectQuery
from exchange.log import EventType, ExchangeLog
from exchange.subjects import subject_hash
from exchange.verify.clients import register_client
from govhub.exchange_log import hub_subject_keys
from govhub.settings import reset_settings
from quality.codes import make_id_number, make_uscc
from simulators.idp import SimulatedIdP
from web.access_api import mask_subject
from web.monitor.i18n import LABELS

PERSON = make_id_number("430902", datetime(1980, 5, 1).date(), 11)
OTHER = make_id_number("430903", datetime(1975, 3, 9).date(), 21)
ENTITY = make_uscc("9", "1", "430902", "MA4L0001")
URL = "/api/access-record"


@pytest.fixture(scope="module")
def idp() -> SimulatedIdP:
    return SimulatedIdP.generate()


@pytest.fixture(autouse=True)
def _hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idp: SimulatedIdP) -> Iterator[None]:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("GOVHUB_IDP_PUBLIC_KEY", idp.public_key_pem())
    reset_settings()
    yield
    reset_settings()


def _asked(api: Api, subject: str = PERSON) -> None:
    """One answered verification about `subject`, as the log writer indexes it."""
    with api.session() as session:
        event = ExchangeLog(session).append(
            EventType.VERIFICATION,
            source="hub",
            target="client:bdc",
            client="bdc",
            subject_hash=subject_hash([subject], keys=hub_subject_keys()),
            case_number="YY-BDC-2026-000123",
            purpose="不动产登记（转移登记）",
            details={"item": "person_alive", "status": 200},
        )
        session.execute(
            insert(SubjectQuery),
            [
                {
                    "seq": event.seq,
                    "subject_hash": event.subject_hash,
                    "recorded_at": event.recorded_at,
                    "client": "bdc",
                    "item": "person_alive",
                    "resource": "person",
                    "version": 3,
                    "case_number": event.case_number,
                    "purpose": event.purpose,
                    "answer": '{"match":true}',
                }
            ],
        )
        session.commit()


def _get(api: Api, token: str | None, subject: str = PERSON, kind: str = "person", **headers: str):  # type: ignore[no-untyped-def]
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.client.get(URL, params={"subject": subject, "kind": kind}, headers=headers)


def _denials(api: Api) -> list:
    with api.session() as session:
        return ExchangeLog(session).query(type=EventType.DENIAL)


def test_the_person_reads_their_record_and_its_printable_page(api: Api, idp: SimulatedIdP) -> None:
    with api.session() as session:
        register_client(session, client_id="bdc", name="益阳市不动产登记系统", allowed_items=["person_alive"])
        session.commit()
    _asked(api)
    _asked(api, OTHER)
    answer = _get(api, idp.assertion(PERSON.lower()))  # the IdP may spell the check character in lower case
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["subject_masked"] == mask_subject(PERSON) and PERSON not in answer.text
    [query] = body["queries"]
    assert (query["client"], query["case_number"], query["answer"]) == ("bdc", "YY-BDC-2026-000123", {"match": True})
    assert query["at"].endswith("+08:00") and body["deliveries"] == []
    assert answer.headers["Cache-Control"] == "no-store" and body["print_url"] in answer.headers["Link"]

    page = api.client.get(body["print_url"])
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert LABELS["ar_title"][0] in page.text and "不动产登记（转移登记）" in page.text and "符合" in page.text
    assert mask_subject(PERSON) in page.text and PERSON not in page.text
    assert "益阳市不动产登记系统" in page.text  # the approval system by its name
    assert identifiers(page.text) == set() and identifiers(api.client.get("/access-record/print/x").text) == set()
    assert LABELS["ar_title"][1] in api.client.get(body["print_url"], params={"lang": "en"}).text
    with api.session() as session:
        reads = ExchangeLog(session).query(type=EventType.ACCESS_RECORD)
    assert [e.details["via"] for e in reads] == ["page", "page", "api"]  # type: ignore[index]
    assert reads[-1].subject_hash == subject_hash([PERSON], keys=hub_subject_keys())


def test_an_entity_reads_its_own_record(api: Api, idp: SimulatedIdP) -> None:
    answer = _get(api, idp.assertion(ENTITY, kind="entity"), ENTITY, "entity")
    assert answer.status_code == 200, answer.text
    assert answer.json()["subject_kind"] == "entity" and answer.json()["queries"] == []


def test_an_altered_or_expired_print_link_opens_nothing(api: Api, idp: SimulatedIdP) -> None:
    path = _get(api, idp.assertion(PERSON)).json()["print_url"]
    token = path.rsplit("/", 1)[1]
    altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    page = api.client.get(f"/access-record/print/{altered}")
    assert page.status_code == 404 and LABELS["ar_missing"][0] in page.text

    from exchange.access.links import open_link, seal_link

    secret = b"s" * 32
    assert open_link(secret, seal_link(secret, PERSON, "person", now=time.time() - 3600)) is None
    assert open_link(secret, seal_link(secret, PERSON, "person")).subject == PERSON  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("case", "status", "code", "words"),
    [
        pytest.param("expired", 401, "assertion_expired", "已过期", id="expired"),
        pytest.param("other_person", 403, "subject_mismatch", "只能查询本人", id="another-person"),
        pytest.param("wrong_audience", 401, "wrong_audience", "受众", id="wrong-audience"),
        pytest.param("other_kind", 403, "subject_mismatch", "只能查询本人", id="entity-assertion-for-a-person"),
        pytest.param("too_long", 401, "assertion_too_long", "有效期过长", id="a-day-long-pass"),
    ],
)
def test_signed_but_wrong_assertions_are_refused_and_logged_one_by_one(
    api: Api, idp: SimulatedIdP, case: str, status: int, code: str, words: str
) -> None:
    _asked(api)
    token = {
        "expired": idp.assertion(PERSON, issued_at=time.time() - 3600, lifetime=600),
        "other_person": idp.assertion(OTHER),
        "wrong_audience": idp.assertion(PERSON, audience="another-hub"),
        "other_kind": idp.assertion(PERSON, kind="entity"),
        "too_long": idp.assertion(PERSON, lifetime=86400),
    }[case]
    answer = _get(api, token)
    assert answer.status_code == status, answer.text
    detail = answer.json()
    assert detail["code"] == code and words in detail["message_zh"] and "queries" not in answer.text
    [denial] = _denials(api)
    assert (denial.error_code, denial.outcome) == (code, "denied")
    assert denial.subject_hash == subject_hash([PERSON], keys=hub_subject_keys())
    with api.session() as session:  # nothing was served, and the index is as it was
        assert ExchangeLog(session).query(type=EventType.ACCESS_RECORD) == []
        assert len(session.query(SubjectQuery).all()) == 1


def test_a_forged_or_missing_assertion_proves_nobody_and_is_counted_per_address(api: Api, idp: SimulatedIdP) -> None:
    forger = SimulatedIdP.generate()
    forged = _get(api, forger.assertion(PERSON))
    assert forged.status_code == 401 and forged.json()["code"] == "bad_signature"
    assert "伪造" in forged.json()["message_zh"]
    header, _payload, signature = idp.assertion(OTHER).split(".")
    mine = idp.assertion(PERSON).split(".")[1]
    assert _get(api, f"{header}.{mine}.{signature}").json()["code"] == "bad_signature"  # payload swapped
    none_alg = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + mine + "."
    assert _get(api, none_alg).json()["code"] == "bad_algorithm"
    missing = _get(api, None)
    assert missing.status_code == 401 and missing.json()["code"] == "missing_assertion"
    assert _get(api, "not-a-token").json()["code"] == "malformed_assertion"
    api.client.app.state.refusal_window.flush(everything=True)  # type: ignore[attr-defined]
    [window] = _denials(api)
    assert window.rows == 5 and set(window.details["codes"]) == {  # type: ignore[index]
        "bad_signature",
        "bad_algorithm",
        "missing_assertion",
        "malformed_assertion",
    }


def test_department_keys_are_refused_even_with_a_valid_assertion(api: Api, idp: SimulatedIdP) -> None:
    answer = _get(api, idp.assertion(PERSON), **api.headers(USER))
    assert answer.status_code == 403 and answer.json()["code"] == "key_not_accepted"
    assert "部门" in answer.json()["message_zh"]
    only_key = _get(api, None, **api.headers(USER))
    assert only_key.status_code == 403
    denials = _denials(api)
    assert [d.department for d in denials] == [USER, USER] and all(d.error_code == "key_not_accepted" for d in denials)
    client_key = _get(api, None, **{"X-Client-Key": "bdc.secret"})
    assert client_key.status_code == 403


def test_bad_subjects_and_an_unconfigured_idp_answer_clearly(
    api: Api, idp: SimulatedIdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_check = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")
    answer = _get(api, idp.assertion(wrong_check), wrong_check)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_subject"
    assert _get(api, idp.assertion(PERSON), kind="citizen").status_code == 422
    monkeypatch.delenv("GOVHUB_IDP_PUBLIC_KEY")
    reset_settings()
    unconfigured = _get(api, idp.assertion(PERSON))
    assert unconfigured.status_code == 503 and "GOVHUB_IDP_PUBLIC_KEY" in unconfigured.json()["message"]


def test_assertion_times_use_the_clock_given(idp: SimulatedIdP) -> None:
    from exchange.access import AssertionRefused, load_idp_public_key, verify_assertion

    token = idp.assertion(PERSON, issued_at=1_800_000_000, lifetime=300)
    key = load_idp_public_key(idp.public_key_pem())
    at = datetime.fromtimestamp(1_800_000_100, UTC)
    assert verify_assertion(token, public_key=key, audience="govhub-access-record", now=at).subject == PERSON
    with pytest.raises(AssertionRefused, match="issued in the future"):
        verify_assertion(
            token, public_key=key, audience="govhub-access-record", now=datetime.fromtimestamp(1_799_999_000, UTC)
        )


def test_a_malformed_idp_key_is_named_at_start_or_answers_503(
    api: Api, idp: SimulatedIdP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.errors import SettingsError
    from govhub.settings import get_settings

    monkeypatch.setenv("GOVHUB_IDP_PUBLIC_KEY", "not a key")
    reset_settings()
    with pytest.raises(SettingsError, match=r"GOVHUB_IDP_PUBLIC_KEY is invalid: .*Ed25519"):
        get_settings()
    monkeypatch.setenv("GOVHUB_IDP_PUBLIC_KEY", idp.public_key_pem().replace("\n", "\\n"))  # one line, \n escapes
    reset_settings()
    assert get_settings().idp_public_key_pem == idp.public_key_pem()
    bad = tmp_path / "idp.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    monkeypatch.delenv("GOVHUB_IDP_PUBLIC_KEY")
    monkeypatch.setenv("GOVHUB_IDP_PUBLIC_KEY_FILE", str(bad))
    reset_settings()
    answer = _get(api, idp.assertion(PERSON))
    assert answer.status_code == 503 and "GOVHUB_IDP_PUBLIC_KEY_FILE" in answer.json()["message"]


def test_a_record_is_withheld_when_its_read_cannot_be_logged(
    api: Api, idp: SimulatedIdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _get(api, idp.assertion(PERSON)).json()["print_url"]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ExchangeLog, "append", broken)
    answer = _get(api, idp.assertion(PERSON))
    assert answer.status_code == 503 and answer.json()["code"] == "log_unavailable"
    page = api.client.get(path)
    assert page.status_code == 503 and LABELS["ar_unavailable"][0] in page.text and "queries" not in page.text


def test_without_a_subject_in_the_address_the_assertion_names_it(api: Api, idp: SimulatedIdP) -> None:
    _asked(api)
    answer = api.client.get(URL, headers={"Authorization": f"Bearer {idp.assertion(PERSON)}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["subject_kind"] == "person" and len(answer.json()["queries"]) == 1
    assert PERSON not in str(answer.request.url)
    entity = api.client.get(URL, headers={"Authorization": f"Bearer {idp.assertion(ENTITY, kind='entity')}"})
    assert entity.status_code == 200 and entity.json()["queries"] == []
