"""The catalogue of verification items (核验事项), loaded from items.yaml and checked against the contracts.

Each item names the proof it replaces, its legal basis, the resource and contract fields it reads, its
parameters and what it discloses. Loading is strict: an unknown resource, field, rule or parameter type
fails with a `ContractError` naming the item and the field, so a typo never reaches the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas import Contract, ContractError, load_all

__all__ = ["ITEMS_FILE", "ItemFile", "Param", "ParamFile", "VerificationItem", "load_items"]

ITEMS_FILE = Path(__file__).resolve().parent / "items.yaml"

ParamType = Literal["int", "date", "decimal", "region", "field"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParamFile(_Strict):
    """A parameter as written in items.yaml."""

    name: str
    type: ParamType
    required: bool = False
    label: str = ""
    min: int | None = None
    max: int | None = None
    field: str | None = None


class ItemFile(_Strict):
    """A verification item as written in items.yaml (unknown keys refused)."""

    code: str
    name: str
    name_en: str
    replaces: list[str] = Field(default_factory=list)
    legal_basis: list[str] = Field(default_factory=list)
    resource: str
    key: list[str]
    subject: list[str]
    reads: list[str] = Field(default_factory=list)
    returns: list[str] = Field(default_factory=list)
    params: list[ParamFile] = Field(default_factory=list)
    rule: str
    discloses: Literal["predicate", "returns"]
    unknown: Literal["false", "not_found"] = "false"


@dataclass(frozen=True)
class Param:
    """One named parameter of an item; `field` (type "field") is validated as that contract field."""

    name: str
    type: ParamType
    required: bool
    label: str = ""
    min: int | None = None
    max: int | None = None
    field: str | None = None


@dataclass(frozen=True)
class VerificationItem:
    """One verification question: what it asks, what it reads, what it may disclose."""

    code: str
    name: str
    name_en: str
    replaces: tuple[str, ...]
    legal_basis: tuple[str, ...]
    resource: str
    key: tuple[str, ...]
    subject: tuple[str, ...]
    reads: tuple[str, ...]
    params: tuple[Param, ...]
    rule: str
    discloses: Literal["predicate", "returns"]
    returns: tuple[str, ...] = ()
    unknown: Literal["false", "not_found"] = "false"

    @property
    def fields(self) -> tuple[str, ...]:
        """Every contract field the item touches (the serving store keeps exactly these)."""
        return tuple(dict.fromkeys((*self.key, *self.subject, *self.reads, *self.returns)))

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def public(self) -> dict[str, Any]:
        """The catalogue entry as the API shows it (no internals such as the rule name)."""
        return {
            "code": self.code,
            "name": self.name,
            "name_en": self.name_en,
            "replaces": list(self.replaces),
            "legal_basis": list(self.legal_basis),
            "resource": self.resource,
            "subject": list(self.subject),
            "params": [
                {k: v for k, v in vars(p).items() if v is not None and not (k == "label" and v == "")}
                for p in self.params
            ],
            "discloses": ["match"] if self.discloses == "predicate" else list(self.returns),
            "unknown_subject": "sealed false" if self.unknown == "false" else "404 subject_not_found",
        }


def load_items(
    path: Path | None = None, *, contracts: Mapping[str, Contract] | None = None
) -> dict[str, VerificationItem]:
    """Load and validate the catalogue (default: the packaged items.yaml), keyed by item code.

    Every field an item names is checked against its resource's contract and every rule against
    `exchange.verify.rules.RULES`; the first problem raises `ContractError` naming item and field.
    """
    if path is None and contracts is None:
        return dict(_default_items())
    return _load(path or ITEMS_FILE, contracts if contracts is not None else load_all())


@cache
def _default_items() -> Mapping[str, VerificationItem]:
    return _load(ITEMS_FILE, load_all())


def _load(path: Path, contracts: Mapping[str, Contract]) -> dict[str, VerificationItem]:
    from exchange.verify.rules import RULES

    where = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ContractError(where, f"cannot read the verification catalogue: {e}") from e
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), list):
        raise ContractError(where, "expected a mapping with an 'items' list")
    items: dict[str, VerificationItem] = {}
    for entry in raw["items"]:
        item = _parse_item(entry, where, contracts, RULES)
        if item.code in items:
            raise ContractError(where, f"item '{item.code}' is defined twice")
        items[item.code] = item
    return items


def _parse_item(
    entry: Any, where: str, contracts: Mapping[str, Contract], rules: Mapping[str, Any]
) -> VerificationItem:
    if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
        raise ContractError(where, f"every item needs a string 'code', got {entry!r:.80}")
    at = f"{where}, item '{entry['code']}'"
    try:
        spec = ItemFile.model_validate(entry)
    except ValidationError as e:
        problem = e.errors()[0]
        place = ".".join(str(part) for part in problem["loc"])
        raise ContractError(at, f"'{place}': {problem['msg']} (got {problem.get('input')!r:.80})") from None
    contract = contracts.get(spec.resource)
    if contract is None:
        raise ContractError(at, f"unknown resource '{spec.resource}'; known: {sorted(contracts)}")
    names = set(contract.field_names)

    def fields(key: str) -> tuple[str, ...]:
        for name in getattr(spec, key):
            if name not in names:
                raise ContractError(
                    at, f"'{key}' names '{name}', which is not a field of the {spec.resource} contract", field=name
                )
        return tuple(getattr(spec, key))

    if spec.rule not in rules:
        raise ContractError(at, f"unknown rule '{spec.rule}'; known: {sorted(rules)}")
    returns = fields("returns")
    if (spec.discloses == "returns") != bool(returns):
        raise ContractError(at, "'returns' lists the disclosed fields exactly when discloses is 'returns'")
    key, subject = fields("key"), fields("subject")
    if not key or not set(key) <= set(subject):
        raise ContractError(at, "'key' must be a non-empty subset of 'subject' (the caller sends the lookup key)")
    for param in spec.params:
        if param.type == "field" and param.field not in names:
            raise ContractError(
                at,
                f"param '{param.name}' names '{param.field}', which is not a field of the {spec.resource} contract",
                field=param.field,
            )
    return VerificationItem(
        code=spec.code,
        name=spec.name,
        name_en=spec.name_en,
        replaces=tuple(spec.replaces),
        legal_basis=tuple(spec.legal_basis),
        resource=spec.resource,
        key=key,
        subject=subject,
        reads=fields("reads"),
        params=tuple(Param(**p.model_dump()) for p in spec.params),
        rule=spec.rule,
        discloses=spec.discloses,
        returns=returns,
        unknown=spec.unknown,
    )
