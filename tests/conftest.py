"""Fixtures every room's tests may use, and the split into the fast lane and the slow one."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

import core.time

# The slow lane (`make test-slow`; `make test` runs everything else): node-id prefixes and why. Each
# room keeps tests in the fast lane; what moves here is what costs minutes: child processes killed
# and re-run, real schedulers, attack and load loops. Measured with `pytest --durations=0`.
SLOW_LANE = {
    "tests/reliability/test_": "the reliability suite: SIGKILL trials, source faults, fuzzing, load",
    "tests/pipeline/test_crash.py": "ingests killed at each commit point in child processes, then re-run",
    "tests/lake/test_compaction_crash.py": "compactions killed at each point in child processes, then re-run",
    "tests/pipeline/test_compaction.py": "three and four ingests of a simulated city with compactions between",
    "tests/pipeline/test_postgres_crash.py": "the same kill-and-rerun trials on PostgreSQL",
    "tests/pipeline/test_postgres_locks.py::test_processes_racing": "processes racing for one resource's lock",
    "tests/dags/test_run_real.py": "an ingest through a real Airflow DAG run",
    "tests/bench/test_city.py::test_city_cli_tiny_scale": "the whole city benchmark end to end, tiny scale",
    "tests/pipeline/test_pending.py::test_kill_during_a_recheck": "re-checks killed at each commit point, then re-run",
    "tests/govhub/test_multi_host.py": "two worker processes on an S3 server and PostgreSQL",
}
FAST_EXCEPTIONS = ("tests/reliability/test_ledger.py",)  # the suite's own bookkeeping: unit tests


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow lane's tests `slow` (see SLOW_LANE)."""
    for item in items:
        if item.nodeid.startswith(FAST_EXCEPTIONS):
            continue
        if any(item.nodeid.startswith(prefix) for prefix in SLOW_LANE):
            item.add_marker(pytest.mark.slow)


# 2026-03-01 01:30 in Beijing is still 2026-02-28 in UTC
MOMENT_UTC = dt.datetime(2026, 2, 28, 17, 30, tzinfo=dt.UTC)


class _FrozenDatetime(dt.datetime):
    """`datetime` whose now() is MOMENT_UTC, in whatever zone is asked for."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _FrozenDatetime:  # type: ignore[override]
        moment = MOMENT_UTC.astimezone(tz) if tz else MOMENT_UTC.replace(tzinfo=None)
        return cls.fromtimestamp(moment.timestamp(), tz) if tz else cls.fromtimestamp(moment.timestamp())


@pytest.fixture
def early_morning_in_beijing(monkeypatch: pytest.MonkeyPatch) -> Iterator[dt.date]:
    """A machine on UTC at 2026-02-28 17:30 while it is 2026-03-01 01:30 in Beijing; yields that Beijing day."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(core.time, "datetime", _FrozenDatetime)
    yield dt.date(2026, 3, 1)
    monkeypatch.undo()
    time.tzset()
