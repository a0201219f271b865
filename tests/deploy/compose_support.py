"""Reading docker-compose.yml as Docker Compose would: interpolation, .env files, ports, volumes.

Docker does not run on the build machines, so the deployment is checked by parsing it; these helpers
implement the parts of the Compose spec the checks need (and nothing more).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "REPO",
    "Reference",
    "env_example",
    "environment",
    "interpolate",
    "is_secret_name",
    "load_compose",
    "published_ports",
    "references",
    "strings",
    "volume_sources",
]

REPO = Path(__file__).resolve().parents[2]

# `$$` escapes a dollar; `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?err}`, `${NAME?err}`, `$NAME`.
_TOKEN = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL")
_SECRET_LAST_PARTS = {"KEY", "AUTH", "PASS", "PW"}


@dataclass(frozen=True)
class Reference:
    """One `${NAME...}` in the compose file: the variable, its operator (`:?`, `:-`, ...) and argument."""

    name: str
    op: str | None
    arg: str | None


def load_compose(path: Path | None = None) -> dict[str, Any]:
    """The compose file as PyYAML reads it (anchors and merge keys resolved)."""
    import yaml

    return yaml.safe_load((path or REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def env_example(path: Path | None = None) -> dict[str, tuple[str, list[str]]]:
    """`.env.example` as {NAME: (value, comment lines directly above it)}."""
    result: dict[str, tuple[str, list[str]]] = {}
    comments: list[str] = []
    for line in (path or REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped:
            comments = []
        elif stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
        else:
            name, sep, value = stripped.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            assert name not in result, f".env.example: {name} defined twice"
            result[name] = (value, comments)
            comments = []
    return result


def strings(node: Any) -> Iterator[str]:
    """Every string in a parsed YAML tree (keys and values)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def references(text: str) -> list[Reference]:
    """The variables a string interpolates (escaped `$$NAME` is not a reference)."""
    found = []
    for match in _TOKEN.finditer(text):
        if match.group(0) == "$$":
            continue
        name = match.group("name") or match.group("bare")
        found.append(Reference(name, match.group("op"), match.group("arg")))
    return found


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """The tree with every variable substituted as Compose does; a missing `:?` variable raises KeyError."""
    if isinstance(node, str):
        return _TOKEN.sub(lambda m: _substitute(m, env), node)
    if isinstance(node, Mapping):
        return {interpolate(k, env): interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    return node


def _substitute(match: re.Match[str], env: Mapping[str, str]) -> str:
    if match.group(0) == "$$":
        return "$"
    name = match.group("name") or match.group("bare")
    op, arg = match.group("op"), match.group("arg") or ""
    value = env.get(name)
    unset_or_empty = not value
    if op in (":?", "?") and (value is None or (op == ":?" and unset_or_empty)):
        raise KeyError(f"{name}: {arg}")
    if op == ":-" and unset_or_empty:
        return arg
    if op == "-" and value is None:
        return arg
    return value or ""


def is_secret_name(name: str) -> bool:
    """True for names that hold credentials: *PASSWORD*, *SECRET*, *TOKEN*, ..._KEY, ..._AUTH."""
    upper = name.upper()
    if any(word in upper for word in _SECRET_WORDS):
        return True
    return re.split(r"_+", upper)[-1] in _SECRET_LAST_PARTS


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment`, in map or list form, as {NAME: value}."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def published_ports(service: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(host ip, host port, protocol) of every published port of a service (short or long syntax)."""
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, Mapping):
            if port.get("published") is None:
                continue
            result.append((port.get("host_ip", "0.0.0.0"), str(port["published"]), port.get("protocol", "tcp")))
            continue
        spec, _, protocol = str(port).partition("/")
        parts = spec.rsplit(":", 2)
        if len(parts) == 1:
            continue  # container port only: nothing published on the host
        host_ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        result.append((host_ip, parts[-2], protocol or "tcp"))
    return result


def volume_sources(service: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, source) of every mount of a service: kind `volume` (named) or `bind` (a path)."""
    result = []
    for mount in service.get("volumes") or []:
        if isinstance(mount, Mapping):
            kind, source = mount.get("type", "volume"), mount.get("source")
            if source:
                result.append((kind, str(source)))
            continue
        source = str(mount).split(":", 1)[0]
        if ":" not in str(mount):
            continue  # anonymous volume
        result.append(("bind" if source.startswith((".", "/", "~")) else "volume", source))
    return result
