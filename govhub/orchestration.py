"""Run the ingest DAGs through Airflow in this process (`dag.test()` on SQLite), person first.

`make run` and the CLI use this to go through the same DAGs the scheduler runs, without starting a
scheduler: Airflow's metadata DB lives under `<GOVHUB_HOME>/airflow` and is migrated once. Airflow
reads its configuration when `airflow` is first imported, so this module sets the environment first
and imports Airflow only inside functions.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Literal

from govhub.lineage import airflow_lineage_env
from schemas import PipelineError, dependency_order, load_all

__all__ = ["DAGS_FOLDER", "airflow_env", "ingest_order", "migrate", "run_dags"]

log = logging.getLogger(__name__)

DAGS_FOLDER = Path(__file__).resolve().parent.parent / "dags"


def airflow_env(home: Path) -> dict[str, str]:
    """Environment for any Airflow command (`airflow standalone`, `airflow dags list`) on govhub's DAGs.

    `home` is GOVHUB_HOME; Airflow's own home, SQLite DB and logs go to `<home>/airflow`.
    """
    home = Path(home).expanduser().resolve()
    return {"GOVHUB_HOME": str(home), **_airflow_vars(home / "airflow")}


def _airflow_vars(airflow_home: Path) -> dict[str, str]:
    airflow_home = Path(airflow_home).expanduser().resolve()
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        **airflow_lineage_env(),  # OpenLineage provider: govhub's lineage transport, namespace `govhub`
    }


def ingest_order(resources: list[str] | None = None) -> list[str]:
    """The resources to ingest in dependency order (referenced resources first); unknown names raise."""
    known = sorted(load_all())
    unknown = sorted(set(resources or ()) - set(known))
    if unknown:
        raise PipelineError(", ".join(unknown), "-", "orchestration", f"no such resource; known: {known}")
    return dependency_order(resources)


def migrate(airflow_home: Path) -> bool:
    """Point Airflow at `airflow_home` and migrate its DB if needed; True when a migration ran."""
    _configure(airflow_home)
    from airflow.utils import db

    try:
        db.check_migrations(timeout=0)  # one look at the alembic heads: ~10 ms when up to date
        return False
    except TimeoutError:
        log.info("migrating the Airflow metadata DB under %s", airflow_home)
        db.upgradedb()
        return True


def run_dags(
    resources: list[str] | None = None,
    *,
    airflow_home: Path,
    retries: bool = False,
    on_failure: Literal["raise", "record"] = "raise",
) -> list[dict[str, Any]]:
    """Run `ingest_<resource>` DAGs one after another through Airflow's `dag.test()`, person first.

    Returns each run's `advance()` summary (from XCom) plus `dag_run_id` and `airflow_seconds` (wall
    time of the DAG run; `seconds` is the pipeline's own stage time). With `retries=False` (the
    default) tasks do not retry: `dag.test()` would otherwise sleep through each retry delay.
    A failed DAG run raises `PipelineError` naming the failed tasks (`on_failure="raise"`) or is
    returned as `{"resource", "status": "failed", "failed_tasks", ...}` and the next DAG runs.
    """
    order = ingest_order(resources)
    migrate(airflow_home)
    dags = _load_dags()
    summaries = []
    for resource in order:
        dag = dags[f"ingest_{resource}"]
        if not retries:
            for task in dag.tasks:
                task.retries = 0
        started = time.perf_counter()
        dag_run = dag.test()
        elapsed = round(time.perf_counter() - started, 3)
        result = _result(dag_run, resource, airflow_seconds=elapsed)
        log.info("%s: %s in %.2f s (pipeline %s s)", dag.dag_id, result["status"], elapsed, result.get("seconds"))
        if result["status"] == "failed" and on_failure == "raise":
            raise PipelineError(
                resource,
                result.get("run_id") or "-",
                ", ".join(result["failed_tasks"]) or "airflow",
                f"Airflow DAG run {result['dag_run_id']} of {dag.dag_id} failed; the task log above and the "
                "run record (`govhub status`) give the error",
            )
        summaries.append(result)
    return summaries


def _configure(airflow_home: Path) -> None:
    """Set Airflow's environment; if Airflow is already imported with another DB, re-point it."""
    wanted = _airflow_vars(airflow_home)
    Path(wanted["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.update(wanted)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    if str(DAGS_FOLDER) not in sys.path:  # DAG files import their sibling `assets` module
        sys.path.append(str(DAGS_FOLDER))
    if "airflow.settings" in sys.modules:
        from airflow import settings

        if wanted["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] != settings.SQL_ALCHEMY_CONN:
            settings.configure_vars()
            settings.reconfigure_orm()


def _load_dags() -> dict[str, Any]:
    """Parse dags/ once; an import error is raised, not skipped."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER)
    if bag.import_errors:
        file, error = next(iter(bag.import_errors.items()))
        raise PipelineError("*", "-", "dag import", f"{file}: {error}")
    return bag.dags


def _result(dag_run: Any, resource: str, *, airflow_seconds: float) -> dict[str, Any]:
    """The advance() summary of a finished DAG run, or a failure record naming the failed tasks."""
    from airflow.models.xcom import XComModel
    from airflow.settings import Session
    from sqlalchemy import select

    with Session() as session:
        rows = session.execute(
            select(XComModel.task_id, XComModel.value).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id.in_(("begin", "advance")),
                XComModel.key == "return_value",
            )
        ).all()
        values = {task_id: XComModel.deserialize_value(_Row(value)) for task_id, value in rows}
        failed = sorted(ti.task_id for ti in dag_run.get_task_instances(state=["failed"], session=session))
    extra = {"dag_run_id": dag_run.run_id, "airflow_seconds": airflow_seconds}
    if dag_run.state == "success" and "advance" in values:
        return {**values["advance"], **extra}
    return {"resource": resource, "run_id": values.get("begin"), "status": "failed", "failed_tasks": failed, **extra}


class _Row:
    """The shape `XComModel.deserialize_value` reads (an object with `.value`)."""

    def __init__(self, value: Any) -> None:
        self.value = value
