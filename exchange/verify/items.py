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

from schemas import Contract, ContractError, load_all

__all__ = ["ITEMS_FILE", "Param", "VerificationItem", "load_items"]

ITEMS_FILE = Path(__file__).resolve().parent / "items.yaml"

ParamType = Literal["int", "date", "decimal", "region", "field"]
_PARAM_TYPES = frozenset({"int", "date", "decimal", "region", "field"})
_ITEM_KEYS = frozenset(
    {"code", "name", "name_en", "replaces", "legal_basis", "resource", "key", "subject", "reads", "returns"}
    | {"params", "rule", "discloses", "unknown"}
)
_PARAM_KEYS = frozenset({"name", "type", "required", "label", "min", "max", "field"})


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
    code = entry["code"]
    at = f"{where}, item '{code}'"
    unknown = set(entry) - _ITEM_KEYS
    if unknown:
        raise ContractError(at, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_ITEM_KEYS)}")
    for required in ("name", "name_en", "resource", "key", "subject", "rule", "discloses"):
        if required not in entry:
            raise ContractError(at, f"'{required}' is missing")
    resource = entry["resource"]
    contract = contracts.get(resource)
    if contract is None:
        raise ContractError(at, f"unknown resource '{resource}'; known: {sorted(contracts)}")
    names = set(contract.field_names)

    def fields(key: str) -> tuple[str, ...]:
        values = entry.get(key) or []
        if not isinstance(values, list):
            raise ContractError(at, f"'{key}' must be a list of {resource} fields")
        for name in values:
            if name not in names:
                raise ContractError(
                    at, f"'{key}' names '{name}', which is not a field of the {resource} contract", field=name
                )
        return tuple(values)

    if entry["rule"] not in rules:
        raise ContractError(at, f"unknown rule '{entry['rule']}'; known: {sorted(rules)}")
    discloses = entry["discloses"]
    if discloses not in ("predicate", "returns"):
        raise ContractError(at, f"'discloses' must be predicate or returns, got {discloses!r}")
    returns = fields("returns")
    if (discloses == "returns") != bool(returns):
        raise ContractError(at, "'returns' lists the disclosed fields exactly when discloses is 'returns'")
    key, subject = fields("key"), fields("subject")
    if not key or not set(key) <= set(subject):
        raise ContractError(at, "'key' must be a non-empty subset of 'subject' (the caller sends the lookup key)")
    if entry.get("unknown", "false") not in ("false", "not_found"):
        raise ContractError(at, f"'unknown' must be \"false\" or not_found, got {entry.get('unknown')!r}")
    return VerificationItem(
        code=code,
        name=str(entry["name"]),
        name_en=str(entry["name_en"]),
        replaces=tuple(entry.get("replaces") or ()),
        legal_basis=tuple(entry.get("legal_basis") or ()),
        resource=resource,
        key=key,
        subject=subject,
        reads=fields("reads"),
        params=tuple(_parse_param(p, at, names, resource) for p in entry.get("params") or ()),
        rule=entry["rule"],
        discloses=discloses,
        returns=returns,
        unknown=entry.get("unknown", "false"),
    )


def _parse_param(raw: Any, at: str, names: set[str], resource: str) -> Param:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ContractError(at, f"every param needs a 'name', got {raw!r:.80}")
    unknown = set(raw) - _PARAM_KEYS
    if unknown:
        raise ContractError(at, f"param '{raw['name']}' has unknown key(s) {sorted(unknown)}")
    if raw.get("type") not in _PARAM_TYPES:
        raise ContractError(
            at, f"param '{raw['name']}' type must be one of {sorted(_PARAM_TYPES)}, got {raw.get('type')!r}"
        )
    if raw["type"] == "field" and raw.get("field") not in names:
        raise ContractError(
            at,
            f"param '{raw['name']}' names '{raw.get('field')}', which is not a field of the {resource} contract",
            field=raw.get("field"),
        )
    return Param(
        name=raw["name"],
        type=raw["type"],
        required=bool(raw.get("required", False)),
        label=str(raw.get("label", "")),
        min=raw.get("min"),
        max=raw.get("max"),
        field=raw.get("field"),
    )
