"""Every third-party package the product rooms import is a declared dependency, not a passenger."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
ROOMS = CONFIG["tool"]["importlinter"]["root_packages"]
# imported only where present, each behind a guard that says what happens without it
OPTIONAL = {"adbc_driver_manager", "adbc_driver_sqlite", "gmssl"}
# reached only on a PostgreSQL metadata store, whose drivers the `postgres` extra installs
EXTRA_ONLY = {"psycopg": "postgres"}


def _declared(*extras: str) -> set[str]:
    project = CONFIG["project"]
    specs = project["dependencies"] + [s for extra in extras for s in project["optional-dependencies"][extra]]
    return {re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs}


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for room in [*ROOMS, "dags"]:
        for path in (ROOT / room).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ROOMS and n != "assets"}


def test_every_imported_package_is_declared() -> None:
    distributions = packages_distributions()
    declared = _declared()
    undeclared = {
        name: distributions.get(name)
        for name in _imported_top_levels() - OPTIONAL
        if not (name in EXTRA_ONLY and {name} & _declared(EXTRA_ONLY[name]))
        and not {d.lower().replace("_", "-") for d in distributions.get(name, [])} & declared
    }
    assert not undeclared, f"imported but not in [project.dependencies]: {undeclared}"


def test_optional_imports_are_in_the_dev_extra() -> None:
    distributions = packages_distributions()
    dev = _declared("dev")
    for name in OPTIONAL:
        assert {d.lower().replace("_", "-") for d in distributions[name]} & dev, name
