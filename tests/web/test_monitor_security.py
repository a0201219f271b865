"""The monitor under attack: sign-in brute force, login CSRF, kept cookies after sign-out, framing,
formula injection in the quarantine CSV, header injection through its file name, PII by role."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from catalog.credentials import hash_secret
from exchange.log import ExchangeEvent
from govhub.db import engine_for, get_engine, migrate
from govhub.settings import get_settings, reset_settings
from tests.hub_support import home_from_template, template_home
from tests.monitor_support import CITIZEN_ID, FORMULA, NAME, PHONE, csrf_token, plant_hostile_quarantine, sign_in
from web import create_app
from web.monitor import create_admin
from web.monitor.auth import admin_store_path
from web.monitor.quarantine import content_disposition, csv_cell

ADMIN, PII_ADMIN, PASSWORD = "admin", "auditor", "monitor-pass-1"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated hub with the two administrators (Argon2id hashes are slow by design) and a hostile quarantine."""
    with template_home(tmp_path_factory.mktemp("monitor") / "hub") as hub:
        migrate()
        create_admin(get_settings().keys_dir, ADMIN, PASSWORD)
        create_admin(get_settings().keys_dir, PII_ADMIN, PASSWORD, may_see_pii=True)
        plant_hostile_quarantine()
    return hub


@pytest.fixture
def home(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield home_from_template(template, tmp_path / "hub", monkeypatch)
    engine_for(get_settings().metadata_url).dispose()
    reset_settings()


def _events(code: str | None = None, type_: str | None = None) -> list[ExchangeEvent]:
    with sa.orm.Session(get_engine()) as session:
        query = sa.select(ExchangeEvent).order_by(ExchangeEvent.seq)
        if code:
            query = query.where(ExchangeEvent.error_code == code)
        if type_:
            query = query.where(ExchangeEvent.type == type_)
        return list(session.scalars(query))


def test_sign_in_without_the_forms_csrf_token_is_refused(home: Path) -> None:
    with TestClient(create_app()) as client:
        cross_site = client.post(
            "/monitor/login", data={"username": ADMIN, "password": PASSWORD}, follow_redirects=False
        )
        assert cross_site.status_code == 403 and "govhub_monitor" not in cross_site.headers.get("set-cookie", "")
        csrf_token(client)  # the browser now has a CSRF cookie, but a forged token still fails
        forged = client.post(
            "/monitor/login",
            data={"username": ADMIN, "password": PASSWORD, "csrf_token": "x.y"},
            follow_redirects=False,
        )
        assert forged.status_code == 403
        assert sign_in(client, username=ADMIN, password=PASSWORD).status_code == 303
    assert len(_events("csrf_failed")) == 2


def test_guessing_a_password_backs_off_then_locks_out_even_the_right_one(home: Path) -> None:
    with TestClient(create_app()) as client:
        answers = [sign_in(client, username=ADMIN, password=f"guess-{i}").status_code for i in range(25)]
        assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
        right = sign_in(client, username=ADMIN, password=PASSWORD)
        assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
        assert "govhub_monitor" not in right.headers.get("set-cookie", "")
        # another account from the same address is throttled by the address's own count
        others = [sign_in(client, username=f"user{i}", password="x" * 9).status_code for i in range(20)]
        assert 429 in others
    assert len(_events("login_failed")) < 30  # refused attempts never reached the password check


def test_a_lock_out_is_an_audit_event(home: Path) -> None:
    app = create_app()
    with TestClient(app) as client:
        throttle = None
        for i in range(5):
            assert sign_in(client, username=ADMIN, password=f"guess-{i}").status_code == 401
        throttle = app.state.signin_throttle
        for i in range(5):  # the back-off minute has passed: forget it, keep the 15-minute count
            throttle._limiter.clear(throttle_item("account", "backoff"), "govhub-signin", "account", f"admin:{ADMIN}")
            assert sign_in(client, username=ADMIN, password=f"later-{i}").status_code == 401
        locked = _events("login_locked")
        assert len(locked) == 1 and locked[0].details["account"] == f"admin:{ADMIN}"
        assert locked[0].details["locked_seconds"] > 60
        throttle._limiter.clear(throttle_item("account", "backoff"), "govhub-signin", "account", f"admin:{ADMIN}")
        assert sign_in(client, username=ADMIN, password=PASSWORD).status_code == 429  # still locked


def throttle_item(scope: str, tier: str):  # type: ignore[no-untyped-def]
    from web.monitor.throttle import _TIERS

    return _TIERS[scope][tier]


def test_sign_out_revokes_the_session_on_the_server(home: Path) -> None:
    with TestClient(create_app()) as client:
        assert sign_in(client, username=ADMIN, password=PASSWORD).status_code == 303
        kept = client.cookies.get("govhub_monitor")
        assert client.get("/monitor/quarantine", follow_redirects=False).status_code == 200
        token = csrf_token(client, "/monitor/quarantine")
        assert client.post("/monitor/logout", data={}, follow_redirects=False).status_code == 403  # no token
        assert client.post("/monitor/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    with TestClient(create_app()) as thief:
        thief.cookies.set("govhub_monitor", kept, path="/monitor")
        assert thief.get("/monitor/quarantine", follow_redirects=False).status_code == 302


def test_security_headers_on_pages_api_and_refusals(home: Path) -> None:
    with TestClient(create_app()) as client:
        for path in ("/monitor/login", "/api/catalog/resources", "/monitor/api/overview", "/health"):
            answer = client.get(path)
            assert answer.headers["x-content-type-options"] == "nosniff", path
            assert answer.headers["referrer-policy"] == "no-referrer", path
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path
        page = client.get("/monitor/login")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy
        sign_in(client, username=ADMIN, password=PASSWORD)
        overview = client.get("/monitor")
        nonce = overview.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
        inline = [tag for tag in re.findall(r"<script[^>]*>", overview.text) if "src=" not in tag]
        assert all(f'nonce="{nonce}"' in tag for tag in inline)
        assert "onchange=" not in client.get("/monitor/lineage").text


def test_cookies_are_secure_behind_a_tls_proxy_when_configured(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app()) as client:
        assert "secure" not in client.get("/monitor/login").headers["set-cookie"].lower()
    monkeypatch.setenv("GOVHUB_COOKIE_SECURE", "always")
    reset_settings()
    with TestClient(create_app()) as client:  # plain http to the app, as behind a TLS-terminating proxy
        assert "secure" in client.get("/monitor/login").headers["set-cookie"].lower()
    with TestClient(create_app(), base_url="https://hub.example") as client:  # the browser sees https
        answer = sign_in(client, username=ADMIN, password=PASSWORD)
        cookie = answer.headers["set-cookie"].lower()
        assert "govhub_monitor=" in cookie and "secure" in cookie and "httponly" in cookie


def test_quarantine_is_masked_unless_the_role_allows_and_every_clear_view_is_logged(home: Path) -> None:
    with TestClient(create_app()) as plain:
        sign_in(plain, username=ADMIN, password=PASSWORD)
        page = plain.get("/monitor/quarantine?resource=person").text
        download = plain.get("/monitor/quarantine.csv?resource=person").content.decode("utf-8-sig")
        for secret in (CITIZEN_ID, NAME, PHONE, "龙岭大道"):
            assert secret not in page and secret not in download, secret
        assert "430902**********34" in page and "张**" in page and "益阳市赫山区" in page
        assert plain.get("/monitor/quarantine?resource=person&clear=true").status_code == 403
        assert plain.get("/monitor/quarantine.csv?clear=true", follow_redirects=False).status_code == 403
    assert _events(type_="admin") == []
    with TestClient(create_app()) as auditor:
        sign_in(auditor, username=PII_ADMIN, password=PASSWORD)
        assert CITIZEN_ID not in auditor.get("/monitor/quarantine?resource=person").text  # masked by default too
        assert CITIZEN_ID in auditor.get("/monitor/quarantine?resource=person&clear=true").text
        assert CITIZEN_ID in auditor.get("/monitor/quarantine.csv?resource=person&clear=true").text
    views = _events(type_="admin")
    assert [(e.details["action"], e.details["viewer"], e.details["shown_as"]) for e in views] == [
        ("pii_clear_view", PII_ADMIN, "page 1"),
        ("pii_clear_view", PII_ADMIN, "csv"),
    ]


def test_csv_cells_that_start_a_formula_are_neutralised_and_negative_numbers_kept(home: Path) -> None:
    with TestClient(create_app()) as client:
        sign_in(client, username=PII_ADMIN, password=PASSWORD)
        text = client.get("/monitor/quarantine.csv?resource=person&clear=true").content.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert all(not c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)
    assert all(not c.startswith("-") or c == "-12.5" for c in cells)
    assert "'" + FORMULA in cells and "-12.5" in cells and "'@SUM(1+1)" in cells


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        pytest.param("=1+1", "'=1+1", id="equals"),
        pytest.param("+86 139", "'+86 139", id="plus-text"),
        pytest.param("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0", id="minus-formula"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("\t=1", "'\t=1", id="tab"),
        pytest.param("\r=1", "'\r=1", id="carriage-return"),
        pytest.param("-12.5", "-12.5", id="negative-number"),
        pytest.param("+3", "+3", id="signed-number"),
        pytest.param("-1e5", "-1e5", id="exponent"),
        pytest.param("张三", "张三", id="text"),
        pytest.param(42, 42, id="int"),
    ],
)
def test_csv_cell(value: object, safe: object) -> None:
    assert csv_cell(value) == safe


@pytest.mark.parametrize("rule", ['x"; filename="evil.html', "检查规则", "a\r\nSet-Cookie: x=1", "../../etc/passwd"])
def test_download_names_are_rfc6266_encoded(home: Path, rule: str) -> None:
    header = content_disposition(f"quarantine-person-{rule}.csv")
    assert header.count('"') == 2 and "\r" not in header and "\n" not in header
    assert "filename*=UTF-8''" in header and header.isascii()
    with TestClient(create_app()) as client:
        sign_in(client, username=ADMIN, password=PASSWORD)
        answer = client.get("/monitor/quarantine.csv", params={"resource": "person", "rule": rule})
        assert answer.status_code == 200
        assert answer.headers["content-disposition"] == header


def test_an_admin_with_an_old_scrypt_hash_signs_in_and_leaves_an_argon2id_hash(home: Path) -> None:
    store = admin_store_path(get_settings().keys_dir)
    admins = json.loads(store.read_text(encoding="utf-8"))
    admins["legacy"] = {"hash": hash_secret(PASSWORD), "roles": [], "created_at": "2025-01-01T00:00:00+00:00"}
    store.write_text(json.dumps(admins), encoding="utf-8")
    with TestClient(create_app()) as client:
        assert sign_in(client, username="legacy", password=PASSWORD).status_code == 303
        assert json.loads(store.read_text(encoding="utf-8"))["legacy"]["hash"].startswith("$argon2id$")
        page = client.get("/monitor", follow_redirects=False)
        assert page.status_code == 200  # the session made at the rehash holds the new hash's fingerprint
