"""Every reliability test writes to one ledger per session (the summary command names it; a temp file otherwise)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.ledger import LEDGER_ENV


@pytest.fixture(scope="session", autouse=True)
def reliability_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ledger file for this session; kept in the environment so subprocesses append to it too."""
    existing = os.environ.get(LEDGER_ENV)
    path = Path(existing) if existing else tmp_path_factory.mktemp("reliability") / "ledger.jsonl"
    os.environ[LEDGER_ENV] = str(path)
    yield path
    if not existing:
        os.environ.pop(LEDGER_ENV, None)
