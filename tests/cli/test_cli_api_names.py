"""The CLI names each shared concept as the API does: the table in cli/README.md, checked row by row."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer

from cli.main import app
from web import create_app

_README = Path(__file__).resolve().parents[2] / "cli" / "README.md"
_ROW = re.compile(r"^\| (?P<concept>[^|]+) \| `(?P<cli>[^`]+)` \| `(?P<api>[^`]+)` \| (?P<old>`[^`]+`)? *\|$")


def _rows() -> list[dict[str, str]]:
    rows = [m.groupdict() for line in _README.read_text(encoding="utf-8").splitlines() if (m := _ROW.match(line))]
    assert len(rows) >= 20, "the concept table of cli/README.md is gone"
    return rows


@cache
def _root() -> Any:
    return typer.main.get_command(app)


def _command(words: list[str]) -> Any:
    """The click command behind `govhub <words>` (Typer's groups and commands, duck-typed)."""
    command: Any = _root()
    for word in words:
        command = command.commands[word]
    return command


def _param(command: Any, name: str) -> Any:
    if name.startswith("--"):
        found = [p for p in command.params if name in p.opts]
    else:  # an argument, shown in capitals
        found = [p for p in command.params if p.param_type_name == "argument" and p.name == name.lower()]
    assert found, f"{command.name} has no {name}"
    return found[0]


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app().openapi()


def _api_names(openapi: dict[str, Any], api: str) -> set[str]:
    """The names the API side of a row offers: a model's fields, or an operation's query parameters."""
    if api.startswith(("GET ", "POST ")):
        method, path, param = re.fullmatch(r"(\w+) (\S+) \?(\w+)", api).groups()  # type: ignore[union-attr]
        operation = openapi["paths"][path][method.lower()]
        names = {p["name"] for p in operation.get("parameters", [])}
        assert param in names, api
        return {param}
    model, field = api.split(".")
    properties = openapi["components"]["schemas"][model]["properties"]
    assert field in properties, f"{model} has no field {field}"
    return {field}


@pytest.mark.parametrize("row", _rows(), ids=lambda row: row["cli"])
def test_each_shared_concept_has_the_api_name_in_the_cli(row: dict[str, str], openapi: dict[str, Any]) -> None:
    *words, name = row["cli"].split()
    command = _command(words)
    param = _param(command, name)
    [api_name] = _api_names(openapi, row["api"])
    cli_name = name.lstrip("-").replace("-", "_").lower()
    repeated = bool(getattr(param, "multiple", False))
    assert cli_name == api_name or (repeated and f"{cli_name}s" == api_name), (row, cli_name, api_name)
    assert not getattr(param, "hidden", False), f"{name} is the canonical spelling: it must show in --help"
    if row["old"]:
        old = _param(command, row["old"].strip("`"))
        assert getattr(old, "hidden", False), f"{row['old']} should be a hidden deprecated alias"
        assert old is not param


def test_the_deprecated_spellings_still_work_and_say_what_replaces_them() -> None:
    from typer.testing import CliRunner

    from cli.support import deprecated_alias

    assert deprecated_alias(None, "database", name="--delivery-mode", old="--mode", default="file") == "database"
    assert deprecated_alias(None, None, name="--delivery-mode", old="--mode", default="file") == "file"
    assert deprecated_alias("api", None, name="--delivery-mode", old="--mode", default="file") == "api"
    with pytest.raises(typer.BadParameter, match="--delivery-mode"):
        deprecated_alias("api", "file", name="--delivery-mode", old="--mode", default="file")
    shown = CliRunner().invoke(app, ["subscription", "apply", "--help"]).output
    assert "--delivery-mode" in shown and "--pii-access" in shown
    assert "--mode " not in shown and "--pii " not in shown  # hidden, yet accepted
