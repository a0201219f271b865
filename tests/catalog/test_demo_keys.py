"""The demo says where its keys are: one 0600 file with every department's and approval system's key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from catalog import authenticate, seed_departments
from cli.demo import write_demo_keys
from govhub.db import get_engine, migrate, session_scope
from govhub.settings import reset_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    reset_settings()
    migrate()
    with session_scope() as session:
        seed_departments(session)
    yield tmp_path / "hub"
    reset_settings()


def test_the_keys_file_holds_working_keys_only_its_owner_reads(home: Path) -> None:
    path = write_demo_keys()
    assert path == home / "keys" / "demo-keys.txt" and path.stat().st_mode & 0o777 == 0o600
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    departments = [r for r in rows if len(r) == 3]
    clients = [r for r in rows if len(r) == 2]
    assert {"市人社局", "市公安局"} <= {name for name, _, _ in departments} and len(clients) == 3
    with Session(get_engine()) as session:
        _, code, key = next(r for r in departments if r[0] == "市人社局")
        found = authenticate(session, key)
        assert found is not None and found.code == code
