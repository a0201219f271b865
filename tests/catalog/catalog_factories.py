"""Contracts built in tests from a shipped contract's YAML with a few keys changed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import yaml

from schemas import CONTRACTS_DIR, Contract, parse_contract


def raw_contract(resource: str) -> dict[str, Any]:
    return yaml.safe_load((CONTRACTS_DIR / f"{resource}.yaml").read_text(encoding="utf-8"))


def variant(resource: str, change: Callable[[dict[str, Any]], None]) -> Contract:
    """The shipped contract of `resource`, changed in place by `change`, parsed strictly."""
    raw = copy.deepcopy(raw_contract(resource))
    change(raw)
    return parse_contract(raw, file=f"{raw['resource']}.yaml")


def not_shared_person() -> Contract:
    """A 不予共享 resource: a copy of person under another name (no shipped contract is not shared)."""

    def change(raw: dict[str, Any]) -> None:
        raw["resource"] = "person_sealed"
        raw["title"] = "涉密人口信息"
        raw["sharing"] = {"type": "不予共享", "condition": "依《中华人民共和国保守国家秘密法》不予共享"}
        raw["related"] = []

    return variant("person", change)
