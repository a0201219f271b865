"""A fresh hub under a real Airflow 3 deployment, every DAG unpaused at once, converges to the in-order result.

api-server, scheduler, dag-processor and triggerer run as separate processes on a PostgreSQL metadata DB
(LocalExecutor); the hub's metadata is PostgreSQL too. The simulators are the sources (a small city, so
Airflow's processes stay light on a shared machine). After the runs quiesce: every curated table equals
what an in-order `govhub ingest` of the same sources publishes, the deliveries ran on the Asset events
up to each table's version, and no row is left pending. The figures are printed (`-s`) and recorded in
docs/real-scheduler.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.dags.airflow_deployment import AirflowDeployment
from tests.hub_support import configure_hub_env
from tests.service_db import postgres_unreachable

pytestmark = [pytest.mark.slow, pytest.mark.services, pytest.mark.timeout(3600)]

SIZE = 2000  # persons; 200 legal entities, 100 credit records, 10 payments a day for 3 days
_TAG = re.sub(r"[^a-z0-9]+", "_", Path(__file__).resolve().parents[2].name.lower()).strip("_")[:20]


@pytest.fixture
def postgres() -> Iterator[None]:
    reason = postgres_unreachable()
    if reason:
        pytest.skip(f"the real-scheduler test needs PostgreSQL for Airflow's metadata: {reason}")
    yield


def _database(prefix: str) -> Any:
    from simulators.testing import POSTGRES_URL, server_database

    return server_database(POSTGRES_URL, prefix=f"{prefix}_{_TAG}")


def _curated(home: Path, resource: str) -> list[dict[str, Any]]:
    """A hub's curated rows of `resource` (contract fields), sorted by primary key."""
    from lake import Lake
    from schemas import load_contract

    contract = load_contract(resource)
    rows = Lake(str(home / "lake")).curated(contract).read(columns=contract.field_names).to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in contract.primary_key))


def _pending(resource: str) -> int:
    """Rows of `resource` still waiting for a referenced resource (the hub under the current settings)."""
    from govhub.db import session_scope
    from govhub.pipeline.pending import count_open_pending
    from govhub.pipeline.resources import open_resource

    with session_scope() as session:
        return count_open_pending(open_resource(resource), session)


def _reference_ingest(tmp_path: Path, env: dict[str, str]) -> Path:
    """The in-order result: `govhub ingest` (referenced resources first) on a fresh embedded hub."""
    home = tmp_path / "reference"
    run_env = {**os.environ, **env, "GOVHUB_HOME": str(home)}
    run_env.pop("GOVHUB_DB_URL", None)
    govhub = str(Path(sys.executable).with_name("govhub"))
    result = subprocess.run([govhub, "ingest"], env=run_env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


def test_all_dags_unpaused_at_once_converge_to_the_in_order_result(
    postgres: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.delivery.models import Delivery
    from govhub.db import migrate, session_scope
    from govhub.demo_sharing import seed_subscriptions
    from schemas import load_all
    from simulators.testing import running_credit_api, simulator_home

    resources = sorted(load_all())
    sources = simulator_home(tmp_path, size=SIZE, seed=11)
    home = tmp_path / "hub"
    with (
        running_credit_api(sources, rate_limit=500) as credit,
        _database("govhub_hub") as hub_url,
        _database("govhub_airflow") as airflow_url,
    ):
        configure_hub_env(monkeypatch, home, sources, credit.base_url)
        monkeypatch.setenv("GOVHUB_DB_URL", hub_url)
        monkeypatch.setenv("GOVHUB_ENVIRONMENT", "test")
        from govhub.settings import reset_settings

        reset_settings()
        migrate()
        subscriptions = seed_subscriptions(home)
        hub_env = {k: v for k, v in os.environ.items() if k.startswith("GOVHUB_")}

        airflow = AirflowDeployment(
            tmp_path / "airflow",
            db_url=sa.make_url(airflow_url).set(drivername="postgresql+psycopg2").render_as_string(False),
            env=hub_env,
        )
        migrate_seconds = airflow.migrate()
        try:
            airflow.start()
            ingest_dags = [f"ingest_{r}" for r in resources]
            airflow.wait_parsed([*ingest_dags, *(f"deliver_{r}" for r in resources)])
            unpaused_at = time.time()
            unpaused = airflow.unpause("%")  # every DAG at once: ingests, deliveries, serving stores
            quiet = airflow.wait_quiet(ingest_dags, timeout=2400)  # a loaded 2-core machine: ~20 min
        finally:
            airflow.stop()
        runs = quiet.runs

        reference = _reference_ingest(tmp_path, hub_env)

        report: dict[str, Any] = {
            "persons": SIZE,
            "airflow_db_migrate_seconds": round(migrate_seconds, 1),
            "unpaused": len(unpaused),
            "minutes_to_converge": round((quiet.converged_at - unpaused_at) / 60, 2),
            "dag_runs": [],
            "resources": {},
        }
        for run in runs:  # the timeline, in seconds after the unpause
            start, end = (None if t is None else round(t - unpaused_at) for t in (run.start, run.end))
            report["dag_runs"].append(f"{run.dag_id} {run.run_type} {run.state} {start}..{end} s")

        problems = [f"DAG run {r.dag_id} {r.run_id} ended {r.state}" for r in runs if r.state != "success"]
        for resource in resources:
            got, want = _curated(home, resource), _curated(reference, resource)
            pending = _pending(resource)
            contract = load_all()[resource]
            keys = {tuple(r[k] for k in contract.primary_key) for r in got}
            lost = sum(1 for r in want if tuple(r[k] for k in contract.primary_key) not in keys)
            report["resources"][resource] = {
                "records": len(got),
                "in_order": len(want),
                "lost": lost,
                "pending": pending,
            }
            if got != want:
                problems.append(f"curated {resource}: {len(got)} rows under Airflow, {len(want)} in order, {lost} lost")
            if pending:
                problems.append(f"{resource}: {pending} rows left pending")
            if not any(r.dag_id == f"deliver_{resource}" and r.run_type == "asset_triggered" for r in runs):
                problems.append(f"deliver_{resource} never ran on an Asset event")

        with session_scope() as session:
            delivered = dict(
                session.execute(
                    sa.select(Delivery.subscription_id, sa.func.max(Delivery.to_version))
                    .where(Delivery.status == "done")
                    .group_by(Delivery.subscription_id)
                ).all()
            )
        from lake import Lake

        for sub in subscriptions:
            version = Lake(str(home / "lake")).curated(load_all()[sub["resource"]]).version()
            if delivered.get(sub["id"]) != version:
                problems.append(
                    f"subscription {sub['id']} ({sub['resource']}) delivered up to "
                    f"{delivered.get(sub['id'])}, the table is at {version}"
                )
        report["pending_left"] = sum(v["pending"] for v in report["resources"].values())
        print("\nreal scheduler:", json.dumps(report, ensure_ascii=False, indent=1))
        assert not problems, "\n".join(problems)
