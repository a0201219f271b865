"""Which suite a run's increment gets (dataset-level in Arrow, or full GX when large) and the scheduled check."""

from __future__ import annotations

import pytest

import govhub.pipeline as pipeline
from govhub.db import session_scope
from govhub.models import QualityReport
from govhub.pipeline import check_version, run_ingest
from govhub.pipeline.resources import open_resource
from govhub.settings import reset_settings
from simulators import tick_all

METADATA_STORES = ("sqlite",)


def _suite(run_id: str) -> dict:
    with session_scope() as session:
        report = session.get(QualityReport, run_id)
        assert report is not None and report.suite_result is not None
        assert report.suite_success == report.suite_result["success"]
        return dict(report.suite_result)


def test_large_increments_get_full_gx_small_ones_the_dataset_suite(hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVHUB_GX_FULL_SUITE_MIN_ROWS", "1000")
    reset_settings()
    background: list[str] = []  # GX is imported ahead of `register` only when the run will need it
    monkeypatch.setattr(pipeline, "_import_in_background", background.append)
    full = run_ingest("person", recheck=False)
    assert background == ["great_expectations"]
    first = _suite(full["run_id"])
    assert (first["engine"], first["scope"], first["suite"]) == ("great_expectations", "increment", "govhub.person")
    assert first["total_rows"] == full["accepted"] and first["gx_version"]

    tick_all(hub.sources.root, day=1)
    small = run_ingest("person", recheck=False)
    assert 0 < small["accepted"] < 1000
    assert background == ["great_expectations"]  # not again for the small run
    second = _suite(small["run_id"])
    assert (second["engine"], second["gx_version"], second["suite"]) == ("govhub", None, "govhub.person.dataset")
    assert second["success"] and second["statistics"]["unsuccessful_expectations"] == 0
    assert {r["expectation"] for r in second["results"]} == {
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_not_be_null",
    }


def test_scheduled_check_runs_full_gx_once_per_version(hub) -> None:
    assert check_version("person")["skipped"] == "nothing published yet"
    run_ingest("person", recheck=False)
    tick_all(hub.sources.root, day=1)
    run_ingest("person", recheck=False)
    done = check_version("person")
    assert (done["version"], done["report"], done["skipped"]) == (1, "person-suite-000001", None)
    result = _suite("person-suite-000001")
    assert (result["engine"], result["scope"]) == ("great_expectations", "version")
    assert result["total_rows"] == open_resource("person").curated.row_count()  # the whole version, not a run's rows
    with session_scope() as session:
        assert session.get(QualityReport, "person-suite-000001").version == 1
    assert check_version("person")["skipped"] == "version already checked"
    assert check_version("person", again=True)["skipped"] is None
    assert check_version("person", version=0)["report"] == "person-suite-000000"
