"""Under Airflow: the OpenLineage provider writes task events naming govhub's datasets to the file transport."""

from __future__ import annotations

from pathlib import Path

import pytest

from govhub.lineage import read_lineage, task_lineage

pytest.importorskip("airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is not installed")


@pytest.fixture
def provider_on(fast_hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the provider at this test's hub: its settings and client are cached per process."""
    from airflow.providers.openlineage import conf as ol_conf
    from airflow.providers.openlineage.plugins.listener import OpenLineageListener, get_openlineage_listener
    from airflow.sdk.listener import get_listener_manager

    from govhub.lineage import airflow_lineage_env

    for name, value in airflow_lineage_env().items():
        monkeypatch.setenv(name, value)
    for value in vars(ol_conf).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()
    manager = get_listener_manager()
    listeners = [p for p in manager.pm.get_plugins() if isinstance(p, OpenLineageListener)]
    if not listeners:  # plugins were loaded in this process while lineage was off
        listeners = [get_openlineage_listener()]
        manager.add_listener(listeners[0])
    for listener in listeners:
        listener.adapter._client = None


def test_dag_run_writes_task_events_with_source_and_curated_version(provider_on, fast_hub, airflow_home: Path) -> None:
    from govhub.orchestration import run_dags

    (summary,) = run_dags(["person"], airflow_home=airflow_home)
    assert summary["status"] == "succeeded"

    events = read_lineage("person", home=fast_hub.home)
    by_job = {(e["job"]["name"], e["eventType"]) for e in events}
    assert {("ingest_person.extract", "COMPLETE"), ("ingest_person.advance", "COMPLETE")} <= by_job
    assert all(e["job"]["namespace"] == "govhub" for e in events)
    assert not any(e["job"]["name"] == "ingest_person" and "govhub_run" in e["run"]["facets"] for e in events), (
        "a run under Airflow must not also emit govhub's own client events"
    )

    advance = next(e for e in events if e["job"]["name"] == "ingest_person.advance" and e["eventType"] == "COMPLETE")
    (source,) = advance["inputs"]
    assert source["name"] == "person" and source["namespace"].startswith("sqlite://")
    assert source["facets"]["govhub_source"]["system"] == "population"
    (curated,) = advance["outputs"]
    assert curated["name"] == "curated/person"
    version = curated["facets"]["govhub_version"]
    assert (version["version"], version["run_id"]) == (0, summary["run_id"])
    assert (version["accepted"], version["rejected"]) == (summary["accepted"], summary["rejected"])
    assert advance["run"]["facets"]["govhub_run"]["orchestrator"] == "airflow"


def test_delivery_task_lineage_names_each_department(fast_hub) -> None:
    results = [
        {
            "subscription_id": 1,
            "department_code": "D1",
            "mode": "file",
            "status": "done",
            "from_version": None,
            "to_version": 2,
            "rows_inserted": 5,
            "rows_updated": 1,
            "rows_deleted": 0,
            "bytes": 900,
        },
        {
            "subscription_id": 2,
            "department_code": "D2",
            "mode": "api",
            "status": "done",
            "from_version": 1,
            "to_version": 2,
            "rows_inserted": 1,
            "rows_updated": 0,
            "rows_deleted": 0,
        },
    ]
    lineage = task_lineage("deliver", "person", results)
    (curated,) = lineage.inputs
    assert (curated.name, curated.facets["version"].datasetVersion) == ("curated/person", "2")
    assert [o.name for o in lineage.outputs] == ["department/D1/person", "department/D2/person"]
    assert lineage.outputs[0].outputFacets["outputStatistics"].rowCount == 6
    assert task_lineage("deliver", "person", None).outputs == []  # failed before returning: no departments
