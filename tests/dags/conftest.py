"""Fixtures for the DAG tests: one migrated Airflow home per session and a recording fake pipeline."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dag_fakes import FakePipeline


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated Airflow home (SQLite) shared by the session: migration takes ~10 s, so once."""
    from govhub.orchestration import migrate

    home = tmp_path_factory.mktemp("govhub") / "airflow"
    migrate(home)
    return home


@pytest.fixture(scope="session")
def dagbag(airflow_home: Path) -> Any:
    """dags/ parsed by Airflow's DagBag, as the dag-processor would."""
    from airflow.dag_processing.dagbag import DagBag

    from govhub.orchestration import DAGS_FOLDER

    return DagBag(dag_folder=DAGS_FOLDER)


@pytest.fixture
def fake_pipeline(monkeypatch: pytest.MonkeyPatch, airflow_home: Path) -> Iterator[FakePipeline]:
    """Replace `govhub.pipeline` for tasks running in this process (dag.test() runs them in-process)."""
    fake = FakePipeline()
    monkeypatch.setitem(sys.modules, "govhub.pipeline", fake.module())
    yield fake
