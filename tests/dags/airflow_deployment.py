"""A real Airflow 3 deployment for tests: api-server, scheduler, dag-processor and triggerer as processes.

PostgreSQL metadata, LocalExecutor, govhub's `dags/`. Used by the real-scheduler test: start it, unpause
DAGs through the public REST API, watch the runs in the metadata DB until nothing is queued, running or
waiting on an Asset event, then stop every process it started (by process group, never by name).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from govhub.lineage import airflow_lineage_env
from govhub.orchestration import DAGS_FOLDER

__all__ = ["COMPONENTS", "AirflowDeployment", "DagRunRecord", "Quiet"]

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
_AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@dataclass(frozen=True)
class DagRunRecord:
    """One DAG run as the metadata DB holds it (times in seconds since the epoch)."""

    dag_id: str
    run_id: str
    run_type: str
    state: str
    queued: float | None
    start: float | None
    end: float | None


@dataclass
class Quiet:
    """What `wait_quiet` saw: when the last run ended, and every run."""

    converged_at: float
    runs: list[DagRunRecord] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AirflowDeployment:
    """Airflow 3 components as separate processes on one PostgreSQL metadata DB (LocalExecutor).

    `env` adds to the environment of every component (GOVHUB_* settings the tasks read). Logs of each
    component go to `<airflow_home>/<component>.log`; `tail()` shows their ends when something fails.
    """

    def __init__(self, airflow_home: Path, *, db_url: str, env: Mapping[str, str], parallelism: int = 4) -> None:
        self.home = Path(airflow_home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.db_url = db_url  # postgresql+psycopg2://... (Airflow's sync driver, from the postgres extra)
        self.env = {
            **os.environ,
            **env,
            **airflow_lineage_env(),  # every component: DAG-run events come from the scheduler
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # the log servers' fixed default ports (8793, 8794) would collide with another deployment
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
        self.env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._token: str | None = None

    # ---- life cycle -----------------------------------------------------------------------

    def migrate(self) -> float:
        """`airflow db migrate` on the PostgreSQL metadata DB; returns its seconds."""
        started = time.monotonic()
        self._run(["db", "migrate"], timeout=600)
        return time.monotonic() - started

    def start(self, *, timeout: float = 240) -> None:
        """Start the four components and wait until the API answers."""
        for component in COMPONENTS:
            log = open(self.home / f"{component}.log", "wb")  # noqa: SIM115 - the process keeps it open
            self.processes[component] = subprocess.Popen(
                [_AIRFLOW, component],
                env=self.env,
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(f"{self.base_url}/api/v2/version", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(2)
        raise TimeoutError(f"the Airflow API did not answer on {self.base_url} within {timeout} s\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM each component's process group, then SIGKILL what is left after 30 s."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def check_alive(self) -> None:
        """Raise naming the component that exited (with the end of its log)."""
        for component, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {component} exited with {process.returncode}\n{self.tail([component])}")

    def tail(self, components: Iterable[str] = COMPONENTS, *, lines: int = 30) -> str:
        out = []
        for component in components:
            path = self.home / f"{component}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            out.append(f"--- {component}.log\n" + "\n".join(text))
        return "\n".join(out)

    def _run(self, args: list[str], *, timeout: float) -> str:
        result = subprocess.run(
            [_AIRFLOW, *args], env=self.env, cwd=self.home, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result.stdout

    # ---- public REST API ------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the public REST API (`/api/v2/...`) with a token; returns the decoded JSON."""
        if self._token is None:  # simple auth manager, all admins: a token for the asking
            self._token = httpx.get(f"{self.base_url}/auth/token", timeout=30).json()["access_token"]
        response = httpx.request(
            method,
            f"{self.base_url}/api/v2/{path}",
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=60,
            **kwargs,
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_parsed(self, dag_ids: Iterable[str], *, timeout: float = 300) -> None:
        """Wait until the dag-processor has serialized every DAG in `dag_ids`; import errors fail at once."""
        wanted = set(dag_ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            errors = self.api("GET", "importErrors")
            if errors["total_entries"]:
                raise RuntimeError(f"DAG import errors: {errors['import_errors']}")
            have = {d["dag_id"] for d in self.api("GET", "dags", params={"limit": 1000})["dags"]}
            if wanted <= have:
                return
            time.sleep(3)
        raise TimeoutError(f"DAGs not parsed within {timeout} s: {sorted(wanted - have)}\n{self.tail()}")

    def unpause(self, pattern: str) -> list[str]:
        """Unpause every DAG whose id matches the SQL LIKE `pattern`, in one API call; returns their ids."""
        body = self.api("PATCH", "dags", params={"dag_id_pattern": pattern}, json={"is_paused": False})
        return sorted(d["dag_id"] for d in body["dags"])

    # ---- metadata DB (read-only) ------------------------------------------------------------

    def dag_runs(self) -> list[DagRunRecord]:
        """Every DAG run so far."""
        engine = sa.create_engine(self.db_url.replace("+psycopg2", "+psycopg"))
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT dag_id, run_id, run_type, state, extract(epoch FROM queued_at), "
                        "extract(epoch FROM start_date), extract(epoch FROM end_date) FROM dag_run ORDER BY id"
                    )
                ).all()
        finally:
            engine.dispose()
        return [DagRunRecord(r[0], r[1], r[2], r[3], *(None if v is None else float(v) for v in r[4:])) for r in rows]

    def queued_asset_events(self) -> int:
        """Asset events that will still trigger a DAG run (asset_dag_run_queue)."""
        engine = sa.create_engine(self.db_url.replace("+psycopg2", "+psycopg"))
        try:
            with engine.connect() as conn:
                return int(conn.execute(sa.text("SELECT count(*) FROM asset_dag_run_queue")).scalar_one())
        finally:
            engine.dispose()

    def wait_quiet(self, ingest_dags: Iterable[str], *, quiet_for: float = 60, timeout: float = 900) -> Quiet:
        """Wait until every ingest DAG ran and, for `quiet_for` seconds, no run is queued or running and no
        Asset event waits to trigger one. Returns when the last run ended (the convergence time)."""
        wanted = set(ingest_dags)
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            runs = self.dag_runs()
            done = {r.dag_id for r in runs if r.state in ("success", "failed")}
            busy = [r for r in runs if r.state not in ("success", "failed")] or self.queued_asset_events()
            if wanted <= done and not busy:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet_for:
                    last = max(r.end for r in runs if r.end is not None)
                    return Quiet(converged_at=last, runs=runs)
            else:
                quiet_since = None
            time.sleep(5)
        raise TimeoutError(f"Airflow did not quiesce within {timeout} s: {self.dag_runs()}\n{self.tail()}")
