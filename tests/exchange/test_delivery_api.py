"""The pull API (api mode) and the `govhub delivery` CLI."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from test_delivery import ALL_PERSON, SECRET, commit, person_rows, pid, subscribe

import web.routes.deliveries as routes
from catalog import Base
from core.time import beijing_today
from exchange.delivery import decode_page_token, deliver_resource
from exchange.log import ExchangeEvent
from lake import Lake
from schemas import Contract, load_contract
from web.auth import current_department
from web.deps import get_session
from web.refusals import install_refusal_logging

DEPT = "11430900MB0000001X"


@pytest.fixture(scope="module")
def person() -> Contract:
    return load_contract("person")


@pytest.fixture(scope="function")
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """The deliveries router on a tmp hub store and lake, called as department DEPT."""
    import exchange.log.models  # noqa: F401

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    Base.metadata.create_all(engine)
    lake = Lake(str(tmp_path / "lake"))
    caller = SimpleNamespace(code=DEPT)
    app = FastAPI()
    app.include_router(routes.router)
    install_refusal_logging(app)  # errors answer as problems, as in the hub's app

    def session_override() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as s:
            yield s

    app.dependency_overrides[get_session] = session_override
    app.dependency_overrides[current_department] = lambda: caller
    monkeypatch.setattr(routes, "open_lake", lambda: lake)
    monkeypatch.setattr(routes, "delivery_secret", lambda: SECRET)
    with Session(engine, expire_on_commit=False) as session, TestClient(app) as client:
        yield SimpleNamespace(client=client, session=session, lake=lake, caller=caller)
    engine.dispose()


def changes(hub: SimpleNamespace, sub_id: int, **params: Any) -> Any:
    return hub.client.get(f"/api/deliveries/{sub_id}/changes", params=params)


def test_pull_pages_a_snapshot_then_the_increment(hub: SimpleNamespace, person: Contract) -> None:
    sub = subscribe(hub.session, department=DEPT, mode="api", fields=["id_number", "name", "phone"], pii_access=False)
    v0 = commit(hub.lake, person, person_rows(person, [pid(i) for i in range(5)]), 1)
    first = changes(hub, sub.id, limit=2)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["after_version"], body["to_version"], body["total"], len(body["rows"])) == (None, v0, 5, 2)
    assert set(body["rows"][0]) == {"id_number", "name", "phone", "_change_type", "_commit_version"}
    assert body["rows"][0]["phone"] is None and body["rows"][0]["name"].startswith("张")
    assert all(len(r["id_number"]) == 64 for r in body["rows"])  # pseudonymous keys
    assert body["next_after_version"] is None
    masked = [f.name for f in person.fields if f.name in ("id_number", "name", "phone") and f.pii != "none"]
    assert body["masked_fields"] == masked and [f["name"] for f in body["masking"]["fields"]] == masked
    assert f"订阅 #{sub.id}" in body["masking"]["reason_zh"] and "pii_access" in body["masking"]["how_to_ask_zh"]

    v1 = commit(hub.lake, person, person_rows(person, [pid(9)]), 2)  # lands while paging: the sequence stays on v0
    seen = body["rows"]
    while body["next_page_token"]:
        assert decode_page_token(body["next_page_token"])[1] == v0
        body = changes(hub, sub.id, page_token=body["next_page_token"], limit=2).json()
        seen += body["rows"]
    assert len({r["id_number"] for r in seen}) == 5 and body["next_after_version"] == v0

    nxt = changes(hub, sub.id, after_version=v0).json()
    assert (nxt["to_version"], nxt["total"], nxt["rows"][0]["_change_type"]) == (v1, 1, "insert")
    assert changes(hub, sub.id, after_version=v1).json()["rows"] == []
    logged = hub.session.scalars(sa.select(ExchangeEvent)).all()
    # 3 snapshot pages, the increment, the empty pull
    assert {e.type for e in logged} == {"delivery"} and len(logged) == 5


def test_an_after_version_beyond_the_current_version_is_a_problem_naming_it(
    hub: SimpleNamespace, person: Contract
) -> None:
    sub = subscribe(hub.session, department=DEPT, mode="api", fields=["id_number", "name"])
    early = changes(hub, sub.id, after_version=0)  # nothing published yet: no version 0 to be after
    assert early.status_code == 400 and early.json()["current_version"] is None
    assert "尚未发布任何版本" in early.json()["message_zh"]
    v0 = commit(hub.lake, person, person_rows(person, [pid(1)]), 1)
    assert changes(hub, sub.id, after_version=v0).json()["rows"] == []  # up to date: an empty page, not an error
    ahead = changes(hub, sub.id, after_version=v0 + 5)
    assert ahead.status_code == 400 and ahead.headers["content-type"].startswith("application/problem+json")
    problem = ahead.json()
    assert (problem["code"], problem["field"], problem["current_version"]) == (
        "after_version_ahead",
        "after_version",
        v0,
    )
    assert problem["type"] == "/problems/after_version_ahead" and problem["status"] == 400
    assert f"current version is {v0}" in problem["message"] and f"当前版本为 {v0}" in problem["message_zh"]
    assert changes(hub, sub.id, after_version=-1).status_code == 200  # "before the first version" stays valid


def test_pull_refuses_revoked_foreign_and_non_api_subscriptions(hub: SimpleNamespace, person: Contract) -> None:
    commit(hub.lake, person, person_rows(person, [pid(1)]), 1)
    revoked = subscribe(hub.session, department=DEPT, mode="api", status="revoked")
    foreign = subscribe(hub.session, department="11430900MB0000009X", mode="api")
    by_file = subscribe(hub.session, department=DEPT, mode="file")
    assert changes(hub, revoked.id).status_code == 403
    assert changes(hub, foreign.id).status_code == 404
    assert changes(hub, 999).status_code == 404
    assert changes(hub, by_file.id).status_code == 409


def test_pull_stops_when_the_term_of_use_has_ended(hub: SimpleNamespace, person: Contract) -> None:
    commit(hub.lake, person, person_rows(person, [pid(1)]), 1)
    ended = subscribe(hub.session, department=DEPT, mode="api")
    ended.valid_until = beijing_today() - timedelta(days=1)
    current = subscribe(hub.session, department=DEPT, mode="api")
    current.valid_until = beijing_today()  # the last day of the term is still inside it
    hub.session.commit()
    assert changes(hub, ended.id).status_code == 403
    assert changes(hub, current.id).status_code == 200
    own = subscribe(hub.session, department=DEPT, mode="api", fields=ALL_PERSON)
    bad = changes(hub, own.id, page_token="not-a-token")
    assert bad.status_code == 400 and "page_token" in bad.json()["message"]


def _token(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CRAFTED_TOKENS = [
    pytest.param(_token('{"a":null,"t":99999999999999999999999999,"o":0}'), id="huge-version"),
    pytest.param(_token('{"a":null,"t":5,"o":0}'), id="version-the-table-never-had"),
    pytest.param(_token('{"a":null,"t":-3,"o":0}'), id="negative-version"),
    pytest.param(_token('{"a":null,"t":0,"o":-1}'), id="negative-offset"),
    pytest.param(_token('{"a":null,"t":0,"o":1e308}'), id="float-offset"),
    pytest.param(_token('{"a":null,"t":Infinity,"o":0}'), id="infinity"),
    pytest.param(_token('{"a":7,"t":0,"o":0}'), id="after-beyond-to"),
    pytest.param(_token('{"a":-5,"t":0,"o":0}'), id="negative-after"),
    pytest.param(_token('{"a":true,"t":true,"o":false}'), id="booleans"),
    pytest.param(_token("[1,2,3]"), id="a-list"),
    pytest.param(_token('{"a":null,"t":"0","o":"0"}'), id="strings"),
    pytest.param("%%%%", id="not-base64"),
    pytest.param(base64.urlsafe_b64encode(b"\xff\xfe garbage").decode(), id="garbage-bytes"),
    pytest.param(_token("[" * 150), id="deep-nesting"),
]


@pytest.mark.parametrize("token", CRAFTED_TOKENS)
def test_crafted_page_tokens_answer_400_without_server_details(
    hub: SimpleNamespace, person: Contract, token: str, tmp_path: Path
) -> None:
    commit(hub.lake, person, person_rows(person, [pid(1), pid(2)]), 1)
    own = subscribe(hub.session, department=DEPT, mode="api", fields=ALL_PERSON)
    answer = changes(hub, own.id, page_token=token)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "bad_page_token"
    assert str(tmp_path) not in answer.text and "lake" not in answer.text.lower()


def test_list_deliveries_of_the_calling_department(hub: SimpleNamespace, person: Contract) -> None:
    mine = subscribe(hub.session, department=DEPT, mode="file", fields=["id_number", "birth_date"], pii_access=False)
    subscribe(hub.session, department="11430900MB0000009X", mode="file")
    commit(hub.lake, person, person_rows(person, [pid(1)]), 1)
    assert len(deliver_resource(hub.session, hub.lake, person, secret=SECRET)) == 2
    body = hub.client.get("/api/deliveries").json()
    assert body["count"] == 1
    [row] = body["data"]
    assert (row["subscription_id"], row["status"], row["rows"], row["from_version"]) == (mine.id, "done", 1, None)
    assert row["masked_fields"] == ["id_number", "birth_date"] and row["masking"]["rule"] == "pii_masking"


def test_cli_runs_and_lists_deliveries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, person: Contract) -> None:
    from typer.testing import CliRunner

    from cli import delivery as cli_delivery
    from cli.delivery import delivery_app
    from govhub.db import migrate, session_scope
    from govhub.delivery_runner import open_lake
    from govhub.settings import reset_settings

    monkeypatch.setattr(cli_delivery.console, "width", 200)  # no truncated cells
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "home"))
    reset_settings()
    try:
        migrate()
        commit(open_lake(), person, person_rows(person, [pid(1), pid(2)]), 1)
        with session_scope() as session:
            subscribe(session, department=DEPT, mode="file", fields=["id_number", "gender"], pii_access=False)
        runner = CliRunner()
        ran = runner.invoke(delivery_app, ["run", "person"])
        assert ran.exit_code == 0, ran.output
        assert DEPT in ran.output and "done" in ran.output
        assert "性别(gender)" in ran.output and "--pii-access" in ran.output  # the masked fields, said out loud
        again = runner.invoke(delivery_app, ["run", "person"])
        assert "up to date" in again.output
        listed = runner.invoke(delivery_app, ["list", "--department", DEPT])
        assert listed.exit_code == 0 and "snapshot→v0" in listed.output and "性别(gender)" in listed.output
        assert (tmp_path / "home" / "keys" / "delivery.secret").stat().st_mode & 0o777 == 0o600
    finally:
        reset_settings()
