"""The year benchmark's bulk loader leaves a log the hub's own `govhub log verify` accepts, row for row as stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govhub.settings import reset_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path))
    monkeypatch.setenv("GOVHUB_DB_URL", f"sqlite:///{tmp_path / 'govhub.db'}")
    monkeypatch.setenv("GOVHUB_LOG_MAINTENANCE_SECONDS", "0")
    reset_settings()
    yield tmp_path
    reset_settings()


def _indexes(db: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'exchange_event'")
        return {(name, sql or "") for name, sql in rows}


@pytest.mark.parametrize("parallel", [False, True], ids=["one-process", "forked-producer"])
def test_bulk_loaded_log_verifies_and_keeps_the_schema(
    home: Path, parallel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.year_log_gen as gen
    from bench.bench_year_log import generate
    from cli.main import app
    from govhub.db import migrate

    monkeypatch.setattr(gen, "POOL", 64)  # events reuse templates: seq, ids, times and case numbers still differ
    monkeypatch.setattr(gen, "_CHUNK", 700)  # several chunks, a checkpoint inside one
    monkeypatch.setattr(gen, "_SPOT_CHECK", 1)  # every templated hash against event_hash itself
    migrate()
    schema = _indexes(home / "govhub.db")
    original = gen.bulk_generate
    monkeypatch.setattr(gen, "bulk_generate", lambda *a, **k: original(*a, **k, parallel=parallel))
    figures = generate(2_500)
    assert figures["checkpoints"] == 2 and figures["generate_events_per_s"] > 0
    assert _indexes(home / "govhub.db") == schema  # secondary indexes dropped for the load are back as they were
    with sqlite3.connect(home / "govhub.db") as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT event_id), max(seq) FROM exchange_event").fetchone() == (
            2_500,
            2_500,
            2_500,
        )
        cases = conn.execute("SELECT count(DISTINCT case_number) FROM exchange_event WHERE case_number IS NOT NULL")
        assert (
            cases.fetchone()[0]
            == conn.execute("SELECT count(*) FROM exchange_event WHERE type = 'verification'").fetchone()[0]
        )
    result = CliRunner().invoke(app, ["log", "verify"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(home / "govhub.db") as conn:  # and an edit is still caught
        conn.execute("UPDATE exchange_event SET rows = 7 WHERE seq = 1234")
    assert CliRunner().invoke(app, ["log", "verify"]).exit_code == 2
