"""`govhub access-record backfill`: indexes the verification answers already in the log, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from exchange.access import access_record
from exchange.subjects import subject_hash
from govhub.db import migrate, session_scope
from govhub.exchange_log import hub_log, hub_subject_keys
from govhub.settings import reset_settings

PERSON = "11010519491231002X"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    reset_settings()
    yield
    reset_settings()


def test_backfill_indexes_past_answers_once_and_says_so_in_both_languages(hub: None) -> None:
    migrate()
    hub_log().append(
        "verification",
        source="hub",
        target="client:bdc",
        client="bdc",
        subject_hash=subject_hash([PERSON], keys=hub_subject_keys()),
        case_number="YY-BDC-2026-000009",
        purpose="不动产登记",
        details={"item": "person_alive", "status": 200, "match": True},
    )
    first = CliRunner().invoke(app, ["access-record", "backfill"])
    assert first.exit_code == 0, first.output
    assert "核验查询 verification answers indexed: 1" in first.output
    again = CliRunner().invoke(app, ["access-record", "backfill"])
    assert "indexed: 0" in again.output
    with session_scope() as session:
        [query] = access_record(session, PERSON, kind="person", keys=hub_subject_keys()).queries
    assert (query.case_number, query.answer) == ("YY-BDC-2026-000009", {"match": True})
