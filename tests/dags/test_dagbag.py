"""dags/ parses without errors into one ingest DAG per contract, configured from the contract."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

from schemas import load_all

CONTRACTS = load_all()
STAGES = ["begin", "extract", "validate", "publish", "register", "advance"]


def test_no_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}


def test_one_ingest_dag_per_contract(dagbag: Any) -> None:
    ingest = sorted(d for d in dagbag.dag_ids if d.startswith("ingest_"))
    assert ingest == sorted(f"ingest_{r}" for r in CONTRACTS)


def test_the_lake_is_compacted_nightly(dagbag: Any) -> None:
    dag = dagbag.get_dag("lake_compact")
    assert dag.schedule == "0 20 * * *" and dag.task_ids == ["compact_due_tables"]  # 04:00 Beijing


@pytest.mark.parametrize("resource", sorted(CONTRACTS))
def test_tasks_run_in_stage_order(dagbag: Any, resource: str) -> None:
    dag = dagbag.get_dag(f"ingest_{resource}")
    stages = STAGES + (["recheck"] if CONTRACTS[resource].referenced_resources else [])
    assert sorted(dag.task_ids) == sorted(stages)
    for upstream, downstream in itertools.pairwise(stages):
        assert downstream in dag.get_task(upstream).downstream_task_ids, (upstream, downstream)
    # every stage gets the run id from begin
    assert all("begin" in dag.get_task(t).upstream_task_ids for t in STAGES[1:])


@pytest.mark.parametrize(
    ("resource", "cron", "system", "upstream"),
    [
        pytest.param("person", "@daily", "population", [], id="person"),
        pytest.param("legal_entity", "0 0 * * *", "legal_entity", ["person"], id="legal_entity"),
        pytest.param("payment", "0 0 * * *", "nontax", ["person"], id="payment"),
        pytest.param("credit_record", "*/15 * * * *", "credit", ["legal_entity", "person"], id="credit_record"),
    ],
)
def test_schedule_tags_from_contract(dagbag: Any, resource: str, cron: str, system: str, upstream: list) -> None:
    from airflow.sdk import AssetAny, AssetOrTimeSchedule

    dag = dagbag.get_dag(f"ingest_{resource}")
    contract = CONTRACTS[resource]
    assert contract.source.system == system
    if not upstream:
        assert dag.schedule == cron
    else:  # the update cycle, or right after any resource the contract references published
        assert isinstance(dag.schedule, AssetOrTimeSchedule)
        assert dag.schedule.timetable.expression == cron
        assert isinstance(dag.schedule.asset_condition, AssetAny)
        names = sorted(a.name for a in dag.schedule.asset_condition.objects)
        assert names == sorted(f"govhub.curated.{r}" for r in upstream)
    assert set(dag.tags) == {"govhub", "ingest", system}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert str(dag.start_date.tzinfo) == "UTC"
    assert dag.description.startswith(contract.title)


@pytest.mark.parametrize(
    ("resource", "retries", "backoff"),
    [
        pytest.param("credit_record", 5, True, id="http"),
        pytest.param("person", 3, False, id="sql"),
        pytest.param("payment", 1, False, id="filedrop"),
    ],
)
def test_retries_by_source_kind(dagbag: Any, resource: str, retries: int, backoff: bool) -> None:
    dag = dagbag.get_dag(f"ingest_{resource}")
    for task in dag.tasks:
        assert task.retries == retries, task.task_id
        assert bool(task.retry_exponential_backoff) is backoff
        assert task.retry_delay >= timedelta(minutes=1)
        assert task.on_failure_callback, task.task_id


@pytest.mark.parametrize("resource", sorted(CONTRACTS))
def test_advance_declares_the_curated_asset(dagbag: Any, resource: str) -> None:
    from airflow.sdk import Asset
    from assets import CURATED

    dag = dagbag.get_dag(f"ingest_{resource}")
    expected = Asset(name=f"govhub.curated.{resource}", uri=f"govhub://curated/{resource}")
    assert CURATED[resource].name == expected.name
    assert CURATED[resource].uri == expected.uri
    assert [(a.name, a.uri) for a in dag.get_task("advance").outlets] == [(expected.name, expected.uri)]
    assert all(not dag.get_task(t).outlets for t in STAGES[:-1])
    if CONTRACTS[resource].referenced_resources:  # promoted pending rows make a version too
        assert [(a.name, a.uri) for a in dag.get_task("recheck").outlets] == [(expected.name, expected.uri)]


def test_every_reference_the_contracts_declare_triggers_the_dependent_dag(dagbag: Any) -> None:
    """Derived, not typed: each `references` target's Asset is in the dependent DAG's schedule."""
    for name, contract in CONTRACTS.items():
        targets = {t.split(".")[0] for f in contract.fields for c in f.checks for t in c.params.get("targets", ())}
        targets.discard(name)
        schedule = dagbag.get_dag(f"ingest_{name}").schedule
        scheduled = {a.name for a in schedule.asset_condition.objects} if targets else set()
        assert scheduled == {f"govhub.curated.{t}" for t in targets}, name


def test_the_readme_names_every_reference_the_contracts_declare() -> None:
    """dags/README.md's order table stays true to the contracts."""
    from govhub.orchestration import DAGS_FOLDER

    readme = (DAGS_FOLDER / "README.md").read_text(encoding="utf-8")
    for name, contract in CONTRACTS.items():
        line = next((row for row in readme.splitlines() if row.startswith(f"  | `ingest_{name}` |")), "")
        for upstream in contract.referenced_resources:
            assert f"`govhub.curated.{upstream}`" in line, (name, upstream)
        if not contract.referenced_resources:
            assert not line, name


def test_quality_suite_checks_every_resource_daily(dagbag: Any) -> None:
    dag = dagbag.get_dag("quality_suite")
    assert dag.schedule == "0 19 * * *"  # 03:00 Beijing time
    assert dag.task_ids == ["check"]
    assert sorted(dag.get_task("check").op_kwargs_expand_input.value["resource"]) == sorted(CONTRACTS)
