"""Several hosts sharing only PostgreSQL and the object store: two workers with different GOVHUB_HOMEs run
one pipeline between them, a third host serves verification answers built from the lake.

Each worker is a long-lived process (`tests/govhub/host_worker.py`) with its own GOVHUB_HOME; the stages
of every run alternate between them, as Celery hands the tasks of one DAG run to any worker. The lake
and the settlement inbox are prefixes of a moto S3 server; the keys are a secret folder copied to each
host (a mounted secret), the S3 secret key and the delivery secret are secret files (GOVHUB_SECRETS_DIR).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lake.lake_moto import start as start_moto
from tests.service_db import postgres_database

pytestmark = [pytest.mark.services, pytest.mark.timeout(900)]

_ACCESS, _SECRET, _BUCKET = "govhub-test", "govhub-test-secret", "city"


class Host:
    """A worker host: one `host_worker` process with its own environment."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("host_worker.py"))],
            env={**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def call(self, call: str, *args: Any, **kwargs: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"call": call, "args": args, "kwargs": kwargs}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"worker {self.name} exited with {self.process.wait()}"
        reply = json.loads(line)
        assert "error" not in reply, f"{call}{args} on worker {self.name}: {reply['error']}"
        return reply["ok"]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def object_store() -> Iterator[str]:
    """A moto S3 server with the city's bucket; yields its endpoint."""
    from minio import Minio

    proc, port = start_moto()
    try:
        Minio(f"127.0.0.1:{port}", access_key=_ACCESS, secret_key=_SECRET, secure=False).make_bucket(_BUCKET)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.join(5)


def _upload_inbox(endpoint: str, inbox: Path, prefix: str) -> int:
    """The settlement files and manifests, dropped into the object-store inbox."""
    from minio import Minio

    client = Minio(endpoint.split("://", 1)[1], access_key=_ACCESS, secret_key=_SECRET, secure=False)
    files = sorted(p for p in inbox.iterdir() if p.is_file())
    for path in files:
        client.fput_object(_BUCKET, f"{prefix}/{path.name}", str(path))
    return len(files)


def test_two_workers_with_their_own_homes_run_one_pipeline_on_s3_and_postgres(
    tmp_path: Path, object_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.crypto import load_or_create_signer
    from exchange.verify import ServingStore
    from govhub.db import migrate
    from govhub.demo_sharing import seed_subscriptions
    from govhub.exchange_log import hub_log
    from govhub.serving_runner import ServingFollower
    from govhub.settings import reset_settings
    from lake import Lake
    from schemas import load_all
    from simulators.testing import running_credit_api, simulator_home

    sources = simulator_home(tmp_path, size=600, seed=5)
    assert _upload_inbox(object_store, sources.inbox, "inbox/nontax") >= 2

    # the secrets, made once by the operator and mounted on every host
    keys = tmp_path / "keys-secret"
    load_or_create_signer(keys, algorithm="sm2")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "govhub_s3_secret_key").write_text(_SECRET)
    (secrets / "govhub_delivery_secret").write_text(os.urandom(32).hex())

    with postgres_database(prefix="govhub_multihost") as db_url, running_credit_api(sources) as credit:
        shared = {
            "GOVHUB_ENVIRONMENT": "test",
            "GOVHUB_DB_URL": db_url,
            "GOVHUB_LAKE_URL": f"s3://{_BUCKET}/lake",
            "GOVHUB_S3_ENDPOINT": object_store,
            "GOVHUB_S3_ALLOW_HTTP": "true",  # moto serves plain HTTP
            "GOVHUB_S3_ACCESS_KEY": _ACCESS,
            "GOVHUB_SECRETS_DIR": str(secrets),
            "GOVHUB_NONTAX_INBOX": f"s3://{_BUCKET}/inbox/nontax",
            "GOVHUB_POPULATION_URL": sources.population_url,
            "GOVHUB_LEGAL_ENTITY_URL": sources.legal_entity_url,
            "GOVHUB_CREDIT_BASE_URL": credit.base_url,
            "GOVHUB_CREDIT_TOKEN": sources.token,
            "GOVHUB_LOG_CHECKPOINT_EVERY": "3",
            "GOVHUB_LINEAGE_TRANSPORT": "none",
        }

        def host_env(name: str) -> dict[str, str]:
            mounted = tmp_path / name / "run-secrets" / "govhub-keys"  # this host's copy of the mounted secret
            shutil.copytree(keys, mounted)
            return {**shared, "GOVHUB_HOME": str(tmp_path / name / "home"), "GOVHUB_KEYS_DIR": str(mounted)}

        # host C: the web host (this process); it seeds the catalogue and subscriptions
        for key, value in host_env("web").items():
            monkeypatch.setenv(key, value)
        reset_settings()
        migrate()
        subscriptions = seed_subscriptions(tmp_path / "departments")

        workers = [Host("a", host_env("a")), Host("b", host_env("b"))]
        try:
            summaries = {}
            for resource in ("person", "legal_entity", "credit_record", "payment"):
                turn = iter(workers * 3)  # begin on a, extract on b, validate on a, ...
                run = next(turn).call("begin", resource)
                for stage in ("extract", "validate", "publish", "register"):
                    next(turn).call(stage, run)
                summaries[resource] = next(turn).call("advance", run)
            delivered = [d for resource in summaries for d in workers[1].call("deliver", resource)]
        finally:
            for worker in workers:
                worker.close()

        for s in summaries.values():
            assert s["status"] == "succeeded", s
            assert s["accepted"] > 0 and s["version"] is not None, s
            assert s["extracted"] == s["accepted"] + s["rejected"] + s.get("pending", 0), s
        assert summaries["payment"]["extracted"] > 0  # read from the object-store inbox

        # nothing host-local: the lake and the keys live where the settings say, not under either home
        for name in ("a", "b"):
            home = tmp_path / name / "home"
            assert not (home / "lake").exists() and not (home / "keys").exists(), sorted(home.rglob("*"))
        lake = Lake(f"s3://{_BUCKET}/lake", storage_options=_storage(object_store))
        for resource, s in summaries.items():
            assert lake.curated(load_all()[resource]).version() == s["version"]

        # one exchange log, its checkpoints signed by both workers with the one mounted key
        log = hub_log()
        report = log.verify()
        assert report.ok, report
        assert report.checkpoints_checked >= 2
        assert {c.key_id for c in log.checkpoints()} == {load_or_create_signer(keys, algorithm="sm2").key_id}

        assert {d["subscription_id"] for d in delivered} == {s["id"] for s in subscriptions}
        assert all(d["status"] == "done" for d in delivered), delivered

        # the web host builds its serving stores from the lake, no serve DAG ran on it
        monkeypatch.setenv("GOVHUB_SERVING_REFRESH_SECONDS", "1")
        reset_settings()
        versions = ServingFollower(1).refresh_once()
        assert versions and versions.get("person") == summaries["person"]["version"], versions
        store = ServingStore(tmp_path / "web" / "home")
        assert store.version("person") == summaries["person"]["version"]
        _web_host_follows_the_lake(tmp_path / "web" / "home")


def _storage(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": _ACCESS,
        "AWS_SECRET_ACCESS_KEY": _SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }


def _web_host_follows_the_lake(home: Path) -> None:
    """The web app's own follower (lifespan) builds a store it lacks within a few seconds."""
    from fastapi.testclient import TestClient

    from exchange.verify import ServingStore
    from web.app import create_app

    shutil.rmtree(home / "serving")
    with TestClient(create_app()) as client:
        deadline = time.monotonic() + 60
        while ServingStore(home).version("person") is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ServingStore(home).version("person") is not None
        assert client.get("/api/verify/public-key").status_code == 200
