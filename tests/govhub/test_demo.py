"""`make run`'s demo end to end (without the scheduler, to stay fast): it must finish and reconcile."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from govhub.settings import reset_settings


def test_demo_runs_shares_verifies_and_reconciles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the demo points this process at its sources through the environment; register each variable with
    # monkeypatch first so that all of them are restored after the test, whatever the demo set
    for name in (
        "GOVHUB_HOME",
        "GOVHUB_POPULATION_URL",
        "GOVHUB_LEGAL_ENTITY_URL",
        "GOVHUB_NONTAX_INBOX",
        "GOVHUB_CREDIT_BASE_URL",
    ):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    result = CliRunner().invoke(
        app, ["--home", str(tmp_path / "hub"), "demo", "--size", "800", "--no-airflow", "--no-serve"]
    )
    reset_settings()
    assert result.exit_code == 0, result.output
    out = result.output
    assert "✗" not in out  # every run's counts reconcile
    assert "only the changes moved" in out
    assert out.count("done") >= 4 and "│ failed" not in out  # a snapshot to each subscriber, then increments
    assert "verified" in out and "failed" not in out.split("verification instead of paper proofs")[-1]
    assert "/monitor — sign in as admin" in out
    correction = out.split("data correction — 校核纠错")[-1]
    for step in ("1.", "2.", "3.", "4."):
        assert step in correction
    assert "open" in correction and "confirmed" in correction and "closed at version" in correction
    assert ": closed" in correction.split("4.")[-1]
    marked, unmarked = correction.split("person_alive")[1:3]
    assert '"under_correction": true' in marked and "verified" in marked
    assert "under_correction" not in unmarked.split("\n")[0] and "verified" in unmarked
    record = out.split("谁查了我的数据")[1]  # one person's access record, fetched with a simulated IdP assertion
    assert "核验 query" in record and "交付 delivery" in record and "http://127.0.0.1:8700/access-record/print/" in out
