"""Compaction in the hub: by the run that passes the threshold, by `govhub lake compact`, and verified."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from govhub.integrity import verify_lake
from govhub.pipeline import run_ingest
from govhub.pipeline.resources import open_resource
from govhub.settings import reset_settings
from simulators import tick_all

METADATA_STORES = ("sqlite",)


def test_the_run_past_the_threshold_compacts_and_verify_covers_it(hub, monkeypatch: pytest.MonkeyPatch) -> None:
    run_ingest("person")
    tick_all(hub.sources.root, day=1)
    monkeypatch.setenv("GOVHUB_LAKE_COMPACT_THRESHOLD", "0.0001")
    reset_settings()
    summary = run_ingest("person")
    table = open_resource("person").curated
    (compaction,) = table.compactions()
    assert compaction.dataset_version == summary["version"] == 1 and table.pending_rows()[0] == 0
    (report,) = verify_lake(["person"])
    assert report.ok, report.problems


def test_lake_compact_registers_a_compaction_nobody_recorded(hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    run_ingest("person")
    tick_all(hub.sources.root, day=1)
    run_ingest("person")
    table = open_resource("person").curated
    assert table.pending_rows()[0] > 0  # 10 % of the base not reached: the run did not compact
    runner = CliRunner()
    assert "nothing to compact" in runner.invoke(app, ["lake", "compact", "person"]).output
    table.compact()  # as a compaction killed after its commit, before it was recorded
    (report,) = verify_lake(["person"])
    assert {p.kind for p in report.problems} == {"unexpected"}
    result = runner.invoke(app, ["lake", "compact", "person", "--force"])
    assert result.exit_code == 0 and "nothing to compact" in result.output, result.output
    assert verify_lake(["person"])[0].ok
    tick_all(hub.sources.root, day=2)
    run_ingest("person")
    result = runner.invoke(app, ["lake", "compact", "person", "--force"])
    assert result.exit_code == 0 and "compacted" in result.output, result.output
    assert runner.invoke(app, ["lake", "verify", "person"]).exit_code == 0
    view = runner.invoke(app, ["lake", "view", "person", "--dialect", "duckdb"])
    assert view.exit_code == 0 and "delta_scan(" in view.output and "_changes" in view.output
