"""A hub whose person table has a base of 40 records and 10 pending changes: the ground for compaction tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from correction_support import publish_people

from govhub.db import migrate
from govhub.delivery_runner import open_lake
from govhub.settings import get_settings, reset_settings
from lake.curated import CuratedTable
from schemas import load_contract

PEOPLE = {f"43090219900101{n:04d}": f"居民{n}" for n in range(40)}
RENAMED = {key: f"{name}（改）" for key, name in list(PEOPLE.items())[:10]}


def pending_person_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, lease_seconds: int | None = None) -> Path:
    """Migrate a hub in `tmp_path`, publish PEOPLE, then RENAMED as 10 pending changes (lease shortened if asked)."""
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path))
    reset_settings()
    if lease_seconds is not None:
        get_settings().lock_lease_seconds = lease_seconds
    migrate()
    publish_people(PEOPLE, run_seq=1)
    publish_people({**PEOPLE, **RENAMED}, run_seq=2)
    assert person_table().pending_rows()[0] == 10
    return tmp_path


def person_table() -> CuratedTable:
    """The hub's curated person table, opened afresh."""
    return open_lake().curated(load_contract("person"))


def person_names() -> dict[str, str]:
    """The current name of every person by ID number."""
    rows = person_table().read(columns=["id_number", "name"]).to_pylist()
    return {r["id_number"]: r["name"] for r in rows}
