"""deploy/: the govhub image is Airflow 3 with the project installed, and the init scripts do their job.

The scripts run here for real: the PostgreSQL init script against the local server (skipped when
absent), `govhub_init.py` and `build_sources.py` on the embedded default (SQLite, local lake).
"""

from __future__ import annotations

import logging
import os
import re
import runpy
import shutil
import subprocess
import sys
import tomllib
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from compose_support import REPO, environment
from packaging.requirements import Requirement
from packaging.version import Version

DOCKERFILE = REPO / "deploy" / "Dockerfile"
_IMAGE_ROOT = "/opt/govhub"  # where the Dockerfile copies the repository


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _airflow_requirement() -> Requirement:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return next(r for r in map(Requirement, pyproject["project"]["dependencies"]) if r.name == "apache-airflow")


def test_base_image_is_the_official_airflow_3_image_the_project_pins() -> None:
    bases = [args.split()[0] for op, args in _instructions() if op == "FROM"]
    match = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", bases[-1])
    assert match, f"the govhub image must build on the official Airflow image, not {bases[-1]}"
    airflow, python = Version(match.group(1)), match.group(2)
    assert airflow.major == 3, f"Airflow {airflow}: the DAGs use Airflow 3's airflow.sdk"
    assert airflow in _airflow_requirement().specifier, f"pyproject wants {_airflow_requirement()}, image has {airflow}"
    assert airflow == Version(version("apache-airflow")), "the image runs another Airflow than the tests do"
    assert python == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_image_installs_the_project_without_moving_airflow() -> None:
    instructions = _instructions()
    copies = [args for op, args in instructions if op == "COPY"]
    assert any(re.search(rf"\s\.\s+{_IMAGE_ROOT}$", f" {c}") for c in copies), f"no COPY of the repository: {copies}"
    installs = [args for op, args in instructions if op == "RUN" and "pip install" in args]
    assert installs, "the Dockerfile installs nothing"
    install = installs[-1]
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in install, "pin Airflow to the image's version when installing"
    assert f"-e {_IMAGE_ROOT}" in install, "install the project (editable: templates and YAML are not package data)"
    env = " ".join(args for op, args in instructions if op == "ENV")
    assert f"AIRFLOW__CORE__DAGS_FOLDER={_IMAGE_ROOT}/dags" in env


def test_compose_builds_every_govhub_service_from_the_dockerfile(compose: dict[str, Any]) -> None:
    image = None
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            assert not service["image"].startswith("${GOVHUB_IMAGE"), f"{name} uses the govhub image without build"
            continue
        assert build == {"context": ".", "dockerfile": "deploy/Dockerfile"}, f"{name}: {build}"
        image = image or service["image"]
        assert service["image"] == image, f"{name} tags the govhub image differently"
    assert (REPO / "deploy" / "Dockerfile.dockerignore").exists(), "keep .venv, .git and .env out of the context"


def test_paths_inside_the_image_exist_in_the_repository(compose: dict[str, Any]) -> None:
    """Scripts run and folders configured under /opt/govhub are the repository's own files."""
    paths = set()
    for service in compose["services"].values():
        words = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
        paths |= {w for w in words if isinstance(w, str) and w.startswith(f"{_IMAGE_ROOT}/")}
        paths |= {v for v in environment(service).values() if v.startswith(f"{_IMAGE_ROOT}/")}
    assert f"{_IMAGE_ROOT}/dags" in paths
    for path in sorted(paths):
        assert (REPO / Path(path).relative_to(_IMAGE_ROOT)).exists(), f"{path} is not in the repository"
    assert (REPO / "dags" / "ingest.py").exists()


def _psql_available() -> bool:
    if shutil.which("psql") is None:
        return False
    probe = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "select 1"], capture_output=True, text=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.services
def test_postgres_init_script_creates_both_databases_with_their_owners() -> None:
    if not _psql_available():
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (or psql is missing)")
    suffix = uuid.uuid4().hex[:8]
    names = {"AIRFLOW_DB_NAME": f"t_airflow_{suffix}", "GOVHUB_DB_NAME": f"t_govhub_{suffix}"}
    env = {**os.environ, **names, "PGHOST": "127.0.0.1", "AIRFLOW_DB_PASSWORD": "pw-a", "GOVHUB_DB_PASSWORD": "pw-g"}

    def psql(sql: str) -> str:
        return subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", sql], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        subprocess.run([str(REPO / "deploy/postgres/init-databases.sh")], env=env, check=True, capture_output=True)
        for name in names.values():
            owner = psql(f"select pg_get_userbyid(datdba) from pg_database where datname = '{name}'")
            assert owner == name, f"database {name} owned by {owner!r}"
            assert psql(f"select rolcanlogin from pg_roles where rolname = '{name}'") == "t"
    finally:
        for name in names.values():
            psql(f'drop database if exists "{name}"')
            psql(f'drop role if exists "{name}"')


def test_postgres_init_script_refuses_to_run_without_passwords() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DB_PASSWORD")}
    result = subprocess.run(
        ["bash", str(REPO / "deploy/postgres/init-databases.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "AIRFLOW_DB_PASSWORD" in result.stderr


def _script(name: str) -> Any:
    """A deploy/ script's `main`, loaded in this process (a subprocess would pay every import again)."""
    return runpy.run_path(str(REPO / "deploy" / name), run_name="deploy_script")["main"]


def test_govhub_init_migrates_and_makes_keys_once(tmp_path: Path, clean_govhub_env: pytest.MonkeyPatch) -> None:
    clean_govhub_env.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    main = _script("govhub_init.py")
    assert main() == 0
    keys = tmp_path / "hub" / "keys"
    assert (keys / "hub-sm2.key").stat().st_mode & 0o077 == 0, "the private key must be private"
    key, secret = (keys / "hub-sm2.key").read_bytes(), (keys / "delivery.secret").read_bytes()
    assert (tmp_path / "hub" / "lake" / "_deploy" / "ready.txt").exists()
    assert main() == 0
    assert (keys / "hub-sm2.key").read_bytes() == key and (keys / "delivery.secret").read_bytes() == secret


def test_govhub_init_names_a_malformed_setting(
    tmp_path: Path, clean_govhub_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clean_govhub_env.setenv("GOVHUB_HOME", str(tmp_path))
    clean_govhub_env.setenv("GOVHUB_DB_URL", "nonsense")
    assert _script("govhub_init.py")() == 1
    assert "setting GOVHUB_DB_URL is invalid" in caplog.text
    assert not (tmp_path / "keys").exists(), "nothing is created before the settings are valid"


def test_build_sources_builds_where_the_hub_reads_and_keeps_an_existing_home(
    tmp_path: Path, clean_govhub_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    home, registries = tmp_path / "sim", tmp_path / "registries"
    registries.mkdir()
    clean_govhub_env.setenv("GOVHUB_POPULATION_URL", f"sqlite:///{registries / 'population.sqlite'}")
    clean_govhub_env.setenv("GOVHUB_LEGAL_ENTITY_URL", f"sqlite:///{registries / 'legal_entity.sqlite'}")
    main = _script("build_sources.py")
    assert main(["--home", str(home), "--size", "500"]) == 0
    assert (registries / "population.sqlite").exists() and (registries / "legal_entity.sqlite").exists()
    assert not (home / "population.sqlite").exists(), "the registry went to the simulator home, not the URL"
    assert [p.suffix for p in (home / "inbox").iterdir()].count(".csv") == 3
    stamp = (home / "simulator.json").stat().st_mtime_ns
    caplog.clear()
    caplog.set_level(logging.INFO, logger="govhub.deploy.sources")
    assert main(["--home", str(home), "--size", "500"]) == 0
    assert "kept" in caplog.text
    assert (home / "simulator.json").stat().st_mtime_ns == stamp, "a restart must not rebuild the sources"
