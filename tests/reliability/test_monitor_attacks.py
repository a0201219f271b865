"""Attacks on the monitor: password guessing, login CSRF, a kept cookie after sign-out, framing, formula
injection and header injection through the quarantine CSV, personal data in the quarantine browser.

Disclosures count what an attacker got: a session without the password or the form's token, a page
served to a kept cookie, a formula cell a spreadsheet would run, a personal value in clear for a viewer
without the role.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from exchange.log import ExchangeEvent
from govhub.db import engine_for, get_engine, migrate
from govhub.settings import get_settings, reset_settings
from tests.monitor_support import (
    ADDRESS,
    CITIZEN_ID,
    FORMULA,
    NAME,
    PHONE,
    csrf_token,
    plant_hostile_quarantine,
    sign_in,
)
from tests.reliability.ledger import record
from web import create_app
from web.monitor import create_admin

ADMIN, AUDITOR, PASSWORD = "admin", "auditor", "monitor-pass-1"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("monitor-attacks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVHUB_HOME", str(root))
        reset_settings()
        migrate()
        create_admin(get_settings().keys_dir, ADMIN, PASSWORD)
        create_admin(get_settings().keys_dir, AUDITOR, PASSWORD, may_see_pii=True)
        plant_hostile_quarantine()
        yield root
        engine_for(get_settings().metadata_url).dispose()
    reset_settings()


def _events(code: str) -> int:
    with sa.orm.Session(get_engine()) as session:
        return len(session.scalars(sa.select(ExchangeEvent).where(ExchangeEvent.error_code == code)).all())


def test_sixty_wrong_passwords_then_the_right_one(home: Path) -> None:
    with TestClient(create_app()) as client:
        wrong = [sign_in(client, username=ADMIN, password=f"guess-{i:02d}") for i in range(60)]
        right = sign_in(client, username=ADMIN, password=PASSWORD)
    sessions = sum("govhub_monitor=" in a.headers.get("set-cookie", "") for a in [*wrong, right])
    refused = sum(a.status_code in (401, 429) for a in wrong) + (right.status_code == 429)
    first_429 = next((i for i, a in enumerate(wrong) if a.status_code == 429), None)
    record(
        "attacks",
        "60 wrong passwords, then the right one (one account, one address)",
        tried=61,
        held=refused if sessions == 0 else 0,
        attack_class="brute_force",
        disclosures=sessions,
        refused_from_attempt=first_429,
        lockout_events=_events("login_locked"),
    )
    assert refused == 61 and sessions == 0 and first_429 == 5


def test_spraying_many_accounts_from_one_address(home: Path) -> None:
    with TestClient(create_app()) as client:
        answers = [sign_in(client, username=f"user{i:02d}", password="guess-1234") for i in range(30)]
    throttled = sum(a.status_code == 429 for a in answers)
    record(
        "attacks",
        "password spraying over 30 accounts from one address",
        tried=len(answers),
        held=sum(a.status_code in (401, 429) for a in answers),
        attack_class="brute_force",
        throttled_after=len(answers) - throttled,
    )
    assert throttled >= 10


def test_login_csrf_kept_cookies_and_framing(home: Path) -> None:
    tried = held = disclosures = 0
    with TestClient(create_app()) as victim:  # a cross-site form posts the attacker's credentials
        forged = victim.post("/monitor/login", data={"username": AUDITOR, "password": PASSWORD}, follow_redirects=False)
        tried += 1
        held += forged.status_code == 403
        disclosures += "govhub_monitor=" in forged.headers.get("set-cookie", "")
    with TestClient(create_app()) as client:
        sign_in(client, username=ADMIN, password=PASSWORD)
        kept = client.cookies.get("govhub_monitor")
        token = csrf_token(client, "/monitor/quarantine")
        tried += 1
        held += client.post("/monitor/logout", follow_redirects=False).status_code == 403  # a cross-site sign-out
        client.post("/monitor/logout", data={"csrf_token": token}, follow_redirects=False)
    with TestClient(create_app()) as thief:
        thief.cookies.set("govhub_monitor", kept, path="/monitor")
        replay = thief.get("/monitor/quarantine", follow_redirects=False)
        tried += 1
        held += replay.status_code == 302
        disclosures += replay.status_code == 200
        framed = thief.get("/monitor/login")
        tried += 1
        held += "frame-ancestors 'none'" in framed.headers.get("content-security-policy", "")
    record(
        "attacks",
        "login CSRF, cross-site sign-out, a cookie kept after sign-out, framing",
        tried=tried,
        held=held if disclosures == 0 else 0,
        attack_class="monitor_session",
        disclosures=disclosures,
    )
    assert held == tried and disclosures == 0


def test_formula_cells_and_crafted_file_names_in_the_csv(home: Path) -> None:
    rules = [None, 'x"; filename="evil.html', "检查规则", "a\r\nSet-Cookie: s=1"]
    tried = held = disclosures = 0
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        sign_in(client, username=AUDITOR, password=PASSWORD)
        text = client.get("/monitor/quarantine.csv?resource=person&clear=true").content.decode("utf-8-sig")
        cells = [c for row in csv.reader(io.StringIO(text)) for c in row if c]
        hostile = [c for c in cells if c.startswith(_FORMULA_START) and c != "-12.5"]
        tried += 5  # the formula-like values the quarantine holds
        disclosures += len(hostile)
        held += 5 if not hostile and "-12.5" in cells and "'" + FORMULA in cells else 0
        for rule in rules[1:]:
            answer = client.get("/monitor/quarantine.csv", params={"resource": "person", "rule": rule})
            header = answer.headers.get("content-disposition", "")
            tried += 1
            ok = answer.status_code == 200 and header.count('"') == 2 and "set-cookie" not in answer.headers
            held += ok
            disclosures += not ok
    record(
        "attacks",
        "formula cells and crafted file names in the quarantine CSV",
        tried=tried,
        held=held if disclosures == 0 else 0,
        attack_class="formula_injection",
        disclosures=disclosures,
    )
    assert held == tried and disclosures == 0


def test_personal_data_in_the_quarantine_browser(home: Path) -> None:
    secrets = [CITIZEN_ID, NAME, PHONE, ADDRESS]
    tried = held = disclosures = 0
    with TestClient(create_app()) as admin:
        sign_in(admin, username=ADMIN, password=PASSWORD)
        for path in ("/monitor/quarantine?resource=person", "/monitor/quarantine.csv?resource=person"):
            seen = admin.get(path).text
            leaked = sum(s in seen for s in secrets)
            tried += 1
            held += leaked == 0
            disclosures += leaked
        for path in ("/monitor/quarantine?clear=true", "/monitor/quarantine.csv?clear=true"):
            tried += 1
            answer = admin.get(path)
            held += answer.status_code == 403
            disclosures += sum(s in answer.text for s in secrets)
    with TestClient(create_app()) as auditor:
        sign_in(auditor, username=AUDITOR, password=PASSWORD)
        before = _clear_views()
        shown = auditor.get("/monitor/quarantine?resource=person&clear=true").text
        tried += 1
        held += CITIZEN_ID in shown and _clear_views() == before + 1  # shown to the role, and in the exchange log
    record(
        "attacks",
        "personal data in the quarantine browser (masked without the role, clear views logged)",
        tried=tried,
        held=held if disclosures == 0 else 0,
        attack_class="quarantine_pii",
        disclosures=disclosures,
    )
    assert held == tried and disclosures == 0


def _clear_views() -> int:
    with sa.orm.Session(get_engine()) as session:
        return len(session.scalars(sa.select(ExchangeEvent).where(ExchangeEvent.type == "admin")).all())
