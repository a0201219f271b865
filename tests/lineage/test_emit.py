"""Lineage of runs outside Airflow: ingest START/COMPLETE/FAIL and deliveries, in the file transport."""

from __future__ import annotations

from pathlib import Path

import pytest

from govhub.lineage import ingest_run_uuid, read_lineage
from govhub.pipeline import run_ingest
from govhub.settings import reset_settings
from schemas import PipelineError


def test_cli_ingest_writes_start_and_complete_naming_source_version_and_counts(fast_hub) -> None:
    summary = run_ingest("person")

    complete, start = read_lineage("person", home=fast_hub.home)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"] == ingest_run_uuid(summary["run_id"])
    assert complete["job"]["namespace"] == "govhub"
    assert complete["job"]["name"] == "ingest_person"
    assert complete["run"]["facets"]["govhub_run"]["run_id"] == summary["run_id"]

    (source,) = complete["inputs"]
    population = Path(fast_hub.sources.population_url.removeprefix("sqlite:///")).resolve()
    assert (source["namespace"], source["name"]) == (f"sqlite://{population}", "person")
    assert source["facets"]["govhub_source"]["system"] == "population"
    assert source["facets"]["govhub_source"]["label"] == "人口基础信息库"
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == summary["extracted"]

    (curated,) = complete["outputs"]
    assert (curated["namespace"], curated["name"]) == ("govhub", "curated/person")
    version = curated["facets"]["govhub_version"]
    assert version["version"] == summary["version"] == 0
    assert (version["extracted"], version["accepted"], version["rejected"]) == (
        summary["extracted"],
        summary["accepted"],
        summary["rejected"],
    )
    assert summary["rejected"] > 0
    assert curated["facets"]["version"]["datasetVersion"] == "0"
    assert curated["outputFacets"]["outputStatistics"]["rowCount"] == summary["accepted"]
    assert "id_number" in {f["name"] for f in curated["facets"]["schema"]["fields"]}
    assert "govhub_version" not in start["outputs"][0]["facets"]  # nothing is committed at START


def test_failed_run_writes_fail_with_the_error(fast_hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVHUB_POPULATION_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")  # no `person` table
    reset_settings()

    with pytest.raises(PipelineError, match="extract"):
        run_ingest("person")

    fail, start = read_lineage("person", home=fast_hub.home)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert fail["run"]["runId"] == start["run"]["runId"]
    message = fail["run"]["facets"]["errorMessage"]["message"]
    assert "extract" in message and "person" in message
    assert fail["inputs"][0]["name"] == "person"
    assert "govhub_version" not in fail["outputs"][0]["facets"]


def test_delivery_names_the_subscriber_department(fast_hub) -> None:
    from govhub.delivery_runner import run_deliveries
    from govhub.demo_sharing import seed_subscriptions

    run_ingest("person")
    seeded = [s for s in seed_subscriptions(fast_hub.home) if s["resource"] == "person"]
    assert seeded and seeded[0]["status"] == "granted"
    (result,) = run_deliveries("person")
    assert result["status"] == "done"

    events = [e for e in read_lineage("person", home=fast_hub.home) if e["job"]["name"] == "deliver_person"]
    complete, start = events
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"]
    (curated,) = complete["inputs"]
    assert (curated["name"], curated["facets"]["version"]["datasetVersion"]) == ("curated/person", "0")
    (department,) = complete["outputs"]
    code = result["department_code"]
    assert (department["namespace"], department["name"]) == ("govhub", f"department/{code}/person")
    delivery = department["facets"]["govhub_delivery"]
    assert (delivery["department_code"], delivery["to_version"], delivery["mode"]) == (code, 0, "database")
    assert delivery["subscription_id"] == result["subscription_id"]
    assert department["outputFacets"]["outputStatistics"]["rowCount"] == result["rows"] > 0


def test_transport_none_writes_nothing(fast_hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVHUB_LINEAGE_TRANSPORT", "none")
    reset_settings()
    run_ingest("person")
    assert not fast_hub.events_file.exists()
