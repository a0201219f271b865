"""docker-compose.yml is consistent: services, ports, volumes, variables, secrets, health, Airflow on Celery.

Docker does not run here, so the file is parsed (PyYAML) and rendered with `.env.example` the way
`docker compose config` would; each check names the service and key that break it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from compose_support import (
    REPO,
    environment,
    interpolate,
    is_secret_name,
    published_ports,
    references,
    strings,
    volume_sources,
)

# The services DESIGN.md ("Embedded default and production") and the deployment brief name.
DESIGN_SERVICES = {
    "postgres",
    "redis",
    "minio",
    "minio-init",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "govhub-web",
    "registry-db",
    "credit-api",
    "sources-build",
}
# Jobs that run once and exit; everything else (outside a profile) runs for good and needs a health check.
ONE_SHOT = {"minio-init", "airflow-init", "govhub-init", "sources-build"}
AIRFLOW_COMMANDS = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
_REQUIRED_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}$")
_URL_PASSWORD = re.compile(r"://[^/:@\s]*:([^@\s]+)@")
_SECRET_FLAG = re.compile(r"--?(?:password|passwd|token|admin-token|secret|requirepass)[= ]+(\S+)", re.IGNORECASE)


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _default_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services `docker compose up` starts (not behind a profile)."""
    return {name: s for name, s in _services(compose).items() if not s.get("profiles")}


def secret_literals(compose: dict[str, Any]) -> list[str]:
    """Every place a credential is written into the file instead of coming from `.env` (`${VAR:?...}`)."""
    problems = []

    def flags(text: str, where: str) -> None:
        for value in _SECRET_FLAG.findall(text):
            if not value.lstrip("\"'").startswith("$"):
                problems.append(f"{where}: command-line secret {value!r} is a literal")

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{where}.{key}"
                literal = isinstance(value, str | int | float) and not _REQUIRED_REF.match(str(value))
                if literal and is_secret_name(str(key)):
                    problems.append(f"{here}: {value!r} is not ${{VAR:?...}}")
                walk(value, here)
        elif isinstance(node, list):
            if all(isinstance(item, str) for item in node):  # a command: `--token X` spans two items
                flags(" ".join(node), where)
            for i, item in enumerate(node):
                name, _, value = item.partition("=") if isinstance(item, str) else ("", "", "")
                if value and is_secret_name(name) and not _REQUIRED_REF.match(value):
                    problems.append(f"{where}[{i}]: {item!r} is not NAME=${{VAR:?...}}")
                if not isinstance(item, str):
                    walk(item, f"{where}[{i}]")
                else:
                    urls(item, f"{where}[{i}]")
        elif isinstance(node, str):
            urls(node, where)
            flags(node, where)

    def urls(text: str, where: str) -> None:
        for password in _URL_PASSWORD.findall(text):
            if not _REQUIRED_REF.match(password):
                problems.append(f"{where}: URL password {password!r} is not ${{VAR:?...}}")

    walk(compose, "compose")
    return problems


def test_compose_spec_has_no_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose spec has no `version:`; Compose v2 warns that it is obsolete"
    assert compose["name"] == "govhub"


def test_every_service_the_design_names_exists(compose: dict[str, Any]) -> None:
    missing = DESIGN_SERVICES - set(_services(compose))
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_published_ports_are_unique(rendered: dict[str, Any]) -> None:
    published = [
        (port, protocol, name)
        for name, service in _services(rendered).items()
        for _, port, protocol in published_ports(service)
    ]
    assert published, "no port is published: nobody could reach the web app"
    counts = Counter((port, protocol) for port, protocol, _ in published)
    clashes = {
        f"{port}/{proto}": [n for p, pr, n in published if (p, pr) == (port, proto)]
        for (port, proto), c in counts.items()
        if c > 1
    }
    assert not clashes, f"host ports published twice: {clashes}"
    assert all(port.isdigit() for port, _, _ in published), published


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used: dict[str, set[str]] = {}
    for name, service in _services(compose).items():
        for kind, source in volume_sources(service):
            if kind == "volume":
                used.setdefault(source, set()).add(name)
    undeclared = {v: sorted(s) for v, s in used.items() if v not in declared}
    assert not undeclared, f"named volumes used but not declared under `volumes:`: {undeclared}"
    unused = declared - set(used)
    assert not unused, f"volumes declared but mounted by no service: {sorted(unused)}"


def test_bind_mounts_are_repository_files(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        for kind, source in volume_sources(service):
            if kind != "bind":
                continue
            assert source.startswith("./"), f"{name}: bind mount {source} must be a path inside the repository"
            assert (REPO / source).exists(), f"{name}: bind mount {source} does not exist in the repository"


def test_every_variable_is_documented_and_every_documented_one_is_used(
    compose: dict[str, Any], example_env: dict[str, tuple[str, list[str]]]
) -> None:
    used = {ref.name for text in strings(compose) for ref in references(text)}
    undocumented = used - set(example_env)
    assert not undocumented, (
        f"variables docker-compose.yml uses but .env.example does not document: {sorted(undocumented)}"
    )
    unused = set(example_env) - used
    assert not unused, f".env.example documents variables docker-compose.yml never uses: {sorted(unused)}"


def test_every_example_variable_has_a_comment(example_env: dict[str, tuple[str, list[str]]]) -> None:
    bare = [name for name, (_, comments) in example_env.items() if not comments]
    assert not bare, f".env.example variables without a comment line above them: {bare}"


def test_example_leaves_every_secret_blank(example_env: dict[str, tuple[str, list[str]]]) -> None:
    """A copied .env.example must not start with a known secret: blank ones make compose refuse to start."""
    filled = [name for name, (value, _) in example_env.items() if is_secret_name(name) and value]
    assert not filled, f".env.example gives secrets a value (leave them blank): {filled}"


def test_secrets_are_required_not_defaulted(compose: dict[str, Any]) -> None:
    bad = sorted(
        {
            f"{ref.name} ({ref.op or 'no operator'})"
            for text in strings(compose)
            for ref in references(text)
            if is_secret_name(ref.name) and ref.op != ":?"
        }
    )
    assert not bad, f"secrets must be ${{VAR:?set it in .env}} (no default, no silent empty value): {bad}"


def test_compose_holds_no_secret_literal(compose: dict[str, Any]) -> None:
    assert secret_literals(compose) == []


def test_secret_check_catches_literals() -> None:
    """The checker itself: each way of writing a secret into the file is caught."""
    bad = {
        "services": {
            "db": {"environment": {"POSTGRES_PASSWORD": "hunter2"}},
            "app": {"environment": ["API_TOKEN=abc"], "command": ["serve", "--token", "abc"]},
            "web": {"environment": {"DB_URL": "postgresql://hub:hunter2@db/hub"}},
            "ok": {"environment": {"S3_SECRET_KEY": "${S3_SECRET_KEY:?set it}"}},
        }
    }
    problems = secret_literals(bad)
    assert len(problems) == 4, problems
    assert not any(".ok." in p for p in problems)


def test_rendering_fails_naming_a_missing_secret(compose: dict[str, Any], dot_env: dict[str, str]) -> None:
    """`docker compose up` with POSTGRES_PASSWORD blank stops and names it (the `:?` form)."""
    with pytest.raises(KeyError, match=r"POSTGRES_PASSWORD: set it in \.env"):
        interpolate(compose, {**dot_env, "POSTGRES_PASSWORD": ""})


def test_long_running_services_have_health_checks(compose: dict[str, Any]) -> None:
    services = _default_services(compose)
    assert set(services) >= ONE_SHOT
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f'{name} runs once: restart must be "no"'
            continue
        assert service.get("restart") in ("always", "unless-stopped"), f"{name}: a long-running service restarts"
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: health check test must be CMD or CMD-SHELL"


def test_depends_on_waits_for_health_or_completion(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on must use the long form with a condition"
        for target, rule in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = rule.get("condition")
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target} to be healthy; it has no check"
            elif condition == "service_completed_successfully":
                assert target in ONE_SHOT, f"{name} waits for {target} to complete; it is not a one-shot job"
            else:
                pytest.fail(f"{name} -> {target}: {condition!r}; use service_healthy or service_completed_successfully")


def test_airflow_runs_celery_on_redis_and_postgres(rendered: dict[str, Any]) -> None:
    services = _services(rendered)
    for name, command in AIRFLOW_COMMANDS.items():
        service = services[name]
        assert service["command"] == command, f"{name}: command {service['command']}"
        env = environment(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        broker = re.match(r"redis://:[^@]+@([\w-]+):6379/\d+$", env["AIRFLOW__CELERY__BROKER_URL"])
        assert broker, f"{name}: broker {env['AIRFLOW__CELERY__BROKER_URL']!r} is not a password-protected Redis"
        assert services[broker.group(1)]["image"].startswith("redis:"), name
        for key, prefix in (
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://"),
            ("AIRFLOW__CELERY__RESULT_BACKEND", "db+postgresql://"),
        ):
            url = env[key]
            assert url.startswith(prefix), f"{name}: {key}={url!r}"
            host = re.search(r"@([\w-]+)[:/]", url).group(1)
            assert services[host]["image"].startswith("postgres:"), f"{name}: {key} points at {host}"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/"), name
    env = environment(services["airflow-init"])
    assert env["_AIRFLOW_DB_MIGRATE"] == "true" and env["_AIRFLOW_WWW_USER_CREATE"] == "true"


def test_airflow_components_share_their_secrets(compose: dict[str, Any]) -> None:
    """JWT secret, Fernet key and DB URL must be identical everywhere, or tasks fail to authenticate."""
    shared = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    for key in shared:
        values = {environment(_services(compose)[name]).get(key) for name in [*AIRFLOW_COMMANDS, "airflow-init"]}
        assert len(values) == 1 and None not in values, f"{key} differs between Airflow components: {values}"


def test_web_app_serves_on_all_interfaces(compose: dict[str, Any]) -> None:
    web = _services(compose)["govhub-web"]
    command = web["command"]
    assert command[:2] == ["govhub", "serve"], command
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert f"localhost:{port}/healthz" in " ".join(web["healthcheck"]["test"])
    assert any(p.endswith(f":{port}") for p in web["ports"]), web["ports"]


def test_every_airflow_component_writes_lineage_where_the_monitor_reads_it(rendered: dict[str, Any]) -> None:
    """The scheduler emits the DAG-run events, the workers the task events: each needs the transport and
    the lineage volume, and the web app (the monitor) reads the same file."""
    services = _services(rendered)
    for name in AIRFLOW_COMMANDS:
        env = environment(services[name])
        assert env.get("AIRFLOW__OPENLINEAGE__DISABLED") == "false", name
        assert env.get("AIRFLOW__OPENLINEAGE__NAMESPACE") == "govhub", name
        transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
        assert transport["type"] == "file" and transport["append"] is True, name
        folder = transport["log_file_path"].rsplit("/", 1)[0]
        mounts = {target for _, _, target in _mounts(services[name])}
        assert folder in mounts, f"{name}: {folder} is not on a shared volume ({mounts})"
    web = services["govhub-web"]
    assert folder in {target for _, _, target in _mounts(web)}
    assert environment(web)["GOVHUB_HOME"] + "/lineage" == folder


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
            out.append(("volume", source, target))
        else:
            out.append((volume.get("type", "volume"), volume.get("source", ""), volume["target"]))
    return out
