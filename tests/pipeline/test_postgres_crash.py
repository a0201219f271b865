"""kill -9 around the Delta commit on a PostgreSQL metadata store: the re-run equals a clean run.

The clean run and the crashed hub each get their own PostgreSQL database (test_crash.py runs every
point on SQLite, where each GOVHUB_HOME carries its own store).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_crash import _CRASHER, CRASH_POINTS, ROOT, _snapshot

from govhub.db import migrate, session_scope
from govhub.models import IngestRun
from govhub.pipeline import run_ingest
from govhub.settings import reset_settings
from tests.service_db import postgres_database, truncate_all

METADATA_STORES = ("postgresql",)  # the hub fixture's store; see conftest.pytest_generate_tests


@pytest.fixture(scope="module")
def clean_store() -> Iterator[str]:
    """A second PostgreSQL database for the clean run (the hub's own holds the crashed one)."""
    with postgres_database(prefix="govhub_test_clean") as url:
        yield url


def _use(monkeypatch: pytest.MonkeyPatch, home: Path, db_url: str) -> None:
    monkeypatch.setenv("GOVHUB_HOME", str(home))
    monkeypatch.setenv("GOVHUB_DB_URL", db_url)
    reset_settings()
    migrate()


@pytest.mark.services
@pytest.mark.parametrize("point", ["before_delta_commit", "after_delta_commit"])
def test_kill_then_rerun_equals_a_clean_run_on_postgresql(
    hub, clean_store: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, point: str
) -> None:
    resource = "person"
    crashed_store = os.environ["GOVHUB_DB_URL"]
    assert crashed_store.startswith("postgresql+psycopg://") and crashed_store != clean_store
    truncate_all(clean_store)
    _use(monkeypatch, tmp_path / "clean", clean_store)
    run_ingest(resource)
    clean = _snapshot(resource)

    _use(monkeypatch, tmp_path / "crashed", crashed_store)
    module_name, attr, when = CRASH_POINTS[point]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASHER, module_name, attr, when, resource], env=env, cwd=ROOT, capture_output=True
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-2000:]
    with session_scope() as session:
        [dead] = session.query(IngestRun).filter_by(resource=resource).all()
        assert dead.status == "running"  # the killed process left its run (and lock) behind

    summary = run_ingest(resource)  # the re-run: its pid check finds the holder gone, then recovers or redoes
    assert summary["status"] == "succeeded"
    assert _snapshot(resource) == clean
    assert run_ingest(resource)["extracted"] == 0
    with session_scope() as session:
        runs = {r.run_id: r.status for r in session.query(IngestRun).filter_by(resource=resource)}
        assert runs[dead.run_id] == ("succeeded" if point == "after_delta_commit" else "failed")
        assert set(runs.values()) <= {"succeeded", "failed"}
