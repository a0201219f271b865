"""The floors drawn in README.md are the import-linter contract `make lint` enforces."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    return [" | ".join(part.strip() for part in layer.split("|")) for layer in layers]


def _readme_layers() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## How it is built", 1)[1].split("```", 2)[1]
    floors = []
    for line in block.strip().splitlines():
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        floors.append(" | ".join(part.strip() for part in names.split("|")))
    return floors


def test_readme_draws_the_enforced_floors_top_to_bottom() -> None:
    assert _readme_layers() == _contract_layers()


def test_every_packaged_room_stands_on_a_floor() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packaged = {pattern.rstrip("*") for pattern in config["tool"]["setuptools"]["packages"]["find"]["include"]}
    on_floors = {room for floor in _contract_layers() for room in floor.split(" | ")}
    assert packaged == on_floors == set(config["tool"]["importlinter"]["root_packages"])
