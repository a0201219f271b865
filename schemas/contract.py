"""Typed data contracts: parse one resource's YAML into frozen objects, refusing anything unknown.

A contract is the single source of truth for a resource: connectors, quality checks, Arrow
schemas, catalogue entries and API models are derived from it. Loading is strict so that a typo
in a contract fails at load time, naming the file and the field, not at 3 a.m. in a DAG.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.errors import ContractError
from schemas.rules import CHECK_RULES, DEFAULT_DIMENSION, GB32100_SUB_CHECKS, RELAX_MODES
from schemas.spec import DEFAULT_PENDING_GRACE, validate_shape

__all__ = [
    "CHECK_RULES",
    "FIELD_TYPES",
    "GB32100_SUB_CHECKS",
    "RELAX_MODES",
    "Check",
    "CodeTable",
    "Contract",
    "Field",
    "FieldType",
    "Source",
    "parse_contract",
]

FIELD_TYPES = ("string", "integer", "float", "decimal", "boolean", "date", "timestamp")
PII_CLASSES = ("none", "personal", "identifier", "sensitive")
SHARING_TYPES = {"无条件共享": "unconditional", "有条件共享": "conditional", "不予共享": "not_shared"}
UPDATE_CYCLES = {"实时": 0, "日": 1, "周": 7, "月": 31, "季": 92, "半年": 183, "年": 366, "其他": None}
SOURCE_KINDS = ("sql", "http", "filedrop")
DRIFT_POLICIES = ("evolve", "freeze", "quarantine")
DELETE_MODES = ("delete", "tombstone")

_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

FieldType = Literal["string", "integer", "float", "decimal", "boolean", "date", "timestamp"]


@dataclass(frozen=True)
class Check:
    """One rule applied to a field; `severity='warn'` marks rows without rejecting them."""

    rule: str
    params: Mapping[str, Any]
    severity: Literal["error", "warn"] = "error"
    dimension: str = "conformance"


@dataclass(frozen=True)
class Field:
    """One data item (信息项) of a resource."""

    name: str
    label: str
    label_en: str
    type: FieldType
    pii: Literal["none", "personal", "identifier", "sensitive"]
    required: bool
    checks: tuple[Check, ...] = ()
    precision: int | None = None
    scale: int | None = None
    description: str = ""


@dataclass(frozen=True)
class CodeTable:
    """An enumeration's code table: code -> Chinese label, with the standard it comes from."""

    name: str
    standard: str
    codes: Mapping[str, str]


@dataclass(frozen=True)
class Source:
    """Where a resource comes from and how it is read."""

    system: str
    kind: Literal["sql", "http", "filedrop"]
    options: Mapping[str, Any]
    cursor: str | None = None
    deleted_flag: str | None = None


@dataclass(frozen=True)
class Contract:
    """A resource's data contract, as loaded from `schemas/<resource>.yaml`."""

    resource: str
    title: str
    title_en: str
    abstract: str
    source: Source
    provider: Mapping[str, str]
    classification: Mapping[str, str]
    sharing: Mapping[str, str]
    openness: Mapping[str, Any]
    update_cycle: str
    primary_key: tuple[str, ...]
    fields: tuple[Field, ...]
    code_tables: Mapping[str, CodeTable] = field(default_factory=dict)
    schema_drift: Literal["evolve", "freeze", "quarantine"] = "freeze"
    deletes: Literal["delete", "tombstone"] = "delete"
    dataset: Mapping[str, Any] = field(default_factory=dict)
    related: tuple[str, ...] = ()
    pending_grace: int = DEFAULT_PENDING_GRACE
    file: str = ""

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def sharing_type(self) -> str:
        """The sharing type in English: unconditional, conditional or not_shared."""
        return SHARING_TYPES[self.sharing["type"]]

    @property
    def update_cycle_days(self) -> int | None:
        """Days after which data is stale (None: no fixed cycle); 实时 counts as one day."""
        days = UPDATE_CYCLES[self.update_cycle]
        return 1 if days == 0 else days

    @property
    def referenced_resources(self) -> tuple[str, ...]:
        """The other resources this contract's `references` checks point at, in contract order."""
        names: list[str] = []
        for f in self.fields:
            for check in f.checks:
                for target in check.params.get("targets", ()):
                    name = target.split(".")[0]
                    if name != self.resource and name not in names:
                        names.append(name)
        return tuple(names)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"resource '{self.resource}' has no field '{name}'")


def parse_contract(raw: Mapping[str, Any], *, file: str) -> Contract:
    """Build a `Contract` from parsed YAML, raising `ContractError` naming the file and field."""
    if not isinstance(raw, Mapping):
        raise ContractError(file, "the contract must be a YAML mapping")
    validate_shape(raw, file=file)  # keys, types and rule parameters; the meaning is checked below
    resource = _name(raw["resource"], file, "resource")
    code_tables = _code_tables(raw.get("code_tables") or {}, file)
    fields = _fields(raw["fields"], file, code_tables)
    names = {f.name for f in fields}
    primary_key = tuple(raw["primary_key"]) if isinstance(raw["primary_key"], list) else (raw["primary_key"],)
    for key in primary_key:
        if key not in names:
            raise ContractError(file, "primary key names a field the contract does not define", field=key)
        if not next(f for f in fields if f.name == key).required:
            raise ContractError(file, "a primary key field must be required: true", field=key)
    source = _source(raw["source"], file, names)
    _cross_field_refs(fields, names, file)
    sharing = dict(raw["sharing"])
    if sharing.get("type") not in SHARING_TYPES:
        raise ContractError(file, f"sharing.type must be one of {list(SHARING_TYPES)}, got {sharing.get('type')!r}")
    if sharing["type"] != "无条件共享" and not sharing.get("condition"):
        raise ContractError(file, f"sharing.condition is required for {sharing['type']} (国发〔2016〕51号)")
    if raw["update_cycle"] not in UPDATE_CYCLES:
        raise ContractError(file, f"update_cycle must be one of {list(UPDATE_CYCLES)}, got {raw['update_cycle']!r}")
    for key in ("code", "name"):
        if key not in raw["provider"]:
            raise ContractError(file, f"provider.{key} is required")
    for key in ("class", "code"):
        if key not in raw["classification"]:
            raise ContractError(file, f"classification.{key} is required")
    drift = raw.get("schema_drift", "freeze")
    if drift not in DRIFT_POLICIES:
        raise ContractError(file, f"schema_drift must be one of {DRIFT_POLICIES}, got {drift!r}")
    deletes = raw.get("deletes", "delete")
    if deletes not in DELETE_MODES:
        raise ContractError(file, f"deletes must be one of {DELETE_MODES}, got {deletes!r}")
    grace = raw.get("pending_grace", DEFAULT_PENDING_GRACE)
    if isinstance(grace, bool) or not isinstance(grace, int) or grace < 1:
        raise ContractError(
            file,
            f"pending_grace must be a whole number of referenced-resource versions (1 or more), got {grace!r}",
        )
    return Contract(
        resource=resource,
        title=str(raw["title"]),
        title_en=str(raw.get("title_en", resource)),
        abstract=str(raw.get("abstract", "")),
        source=source,
        provider={k: str(v) for k, v in raw["provider"].items()},
        classification={k: str(v) for k, v in raw["classification"].items()},
        sharing={k: str(v) for k, v in sharing.items()},
        openness=dict(raw.get("openness") or {"open": False}),
        update_cycle=raw["update_cycle"],
        primary_key=primary_key,
        fields=fields,
        code_tables=code_tables,
        schema_drift=drift,
        deletes=deletes,
        dataset=dict(raw.get("dataset") or {}),
        related=tuple(raw.get("related") or ()),
        pending_grace=grace,
        file=file,
    )


def _name(value: Any, file: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ContractError(file, f"{what} must be a snake_case name, got {value!r}")
    return value


def _code_tables(raw: Mapping[str, Any], file: str) -> dict[str, CodeTable]:
    tables = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("codes"), Mapping) or not spec["codes"]:
            raise ContractError(file, f"code table '{name}' needs a non-empty 'codes' mapping")
        tables[name] = CodeTable(
            name=name,
            standard=str(spec.get("standard", "")),
            codes={str(k): str(v) for k, v in spec["codes"].items()},
        )
    return tables


def _fields(raw: Any, file: str, code_tables: Mapping[str, CodeTable]) -> tuple[Field, ...]:
    if not isinstance(raw, list) or not raw:
        raise ContractError(file, "'fields' must be a non-empty list")
    fields: list[Field] = []
    seen: set[str] = set()
    for position, spec in enumerate(raw, start=1):
        if not isinstance(spec, Mapping) or "name" not in spec:
            raise ContractError(file, f"field #{position} has no 'name'")
        name = spec["name"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise ContractError(file, "field names must be snake_case", field=str(name))
        if name in seen:
            raise ContractError(file, "duplicate field: defined more than once", field=name)
        seen.add(name)
        allowed = {"name", "label", "label_en", "type", "pii", "required", "checks", "description"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise ContractError(file, f"unknown key(s) {unknown}; allowed: {sorted(allowed)}", field=name)
        if not spec.get("label"):
            raise ContractError(file, "every field needs a Chinese label (信息项名称)", field=name)
        type_text = str(spec.get("type", ""))
        precision = scale = None
        if match := _DECIMAL.match(type_text):
            precision, scale = int(match[1]), int(match[2])
            type_text = "decimal"
            if not 0 < precision <= 38 or scale > precision:
                raise ContractError(file, f"decimal precision/scale out of range: {spec['type']}", field=name)
        if type_text not in FIELD_TYPES or (type_text == "decimal" and precision is None):
            raise ContractError(
                file,
                f"unknown type {spec.get('type')!r}; use string, integer, float, boolean, date, timestamp "
                "or decimal(p,s)",
                field=name,
            )
        pii = spec.get("pii", "none")
        if pii not in PII_CLASSES:
            raise ContractError(file, f"unknown pii class {pii!r}; use one of {PII_CLASSES}", field=name)
        fields.append(
            Field(
                name=name,
                label=str(spec["label"]),
                label_en=str(spec.get("label_en", name)),
                type=type_text,  # type: ignore[arg-type]
                pii=pii,
                required=bool(spec.get("required", False)),
                checks=tuple(_check(c, file, name, code_tables) for c in spec.get("checks") or ()),
                precision=precision,
                scale=scale,
                description=str(spec.get("description", "")),
            )
        )
    return tuple(fields)


def _check(raw: Any, file: str, field_name: str, code_tables: Mapping[str, CodeTable]) -> Check:
    """A check whose shape `validate_shape` accepted; here only what needs the rest of the contract."""
    if isinstance(raw, str):
        raw = {"rule": raw}
    rule = raw["rule"]
    params = {k: v for k, v in raw.items() if k not in ("rule", "severity", "dimension")}
    if rule == "enum" and params["table"] not in code_tables:
        raise ContractError(
            file, f"check 'enum' names code table {params['table']!r}, which is not defined", field=field_name
        )
    if rule == "pattern":
        try:
            re.compile(params["regex"])
        except re.error as e:
            raise ContractError(file, f"check 'pattern' has an invalid regex: {e}", field=field_name) from e
    if rule == "references":
        targets = params["targets"]
        if isinstance(targets, str):
            targets = [targets]
        if not targets or not all(isinstance(t, str) and t.count(".") == 1 for t in targets):
            raise ContractError(file, "check 'references' needs targets like 'person.id_number'", field=field_name)
        params["targets"] = tuple(targets)
    if rule == "gb32100" and "relax" in params:
        params["relax"] = dict(params["relax"])
    return Check(
        rule=rule,
        params=params,
        severity=raw.get("severity", "error"),
        dimension=str(raw.get("dimension") or DEFAULT_DIMENSION[rule]),
    )


def _source(raw: Any, file: str, names: set[str]) -> Source:
    if not isinstance(raw, Mapping):
        raise ContractError(file, "'source' must be a mapping")
    for key in ("system", "kind"):
        if key not in raw:
            raise ContractError(file, f"source.{key} is required")
    if raw["kind"] not in SOURCE_KINDS:
        raise ContractError(file, f"source.kind must be one of {SOURCE_KINDS}, got {raw['kind']!r}")
    cursor = raw.get("cursor")
    if cursor is not None and cursor not in names:
        raise ContractError(file, "source.cursor names a field the contract does not define", field=cursor)
    options = {k: v for k, v in raw.items() if k not in ("system", "kind", "cursor", "deleted_flag")}
    return Source(
        system=str(raw["system"]),
        kind=raw["kind"],
        options=options,
        cursor=cursor,
        deleted_flag=raw.get("deleted_flag"),
    )


def _cross_field_refs(fields: tuple[Field, ...], names: set[str], file: str) -> None:
    for f in fields:
        for check in f.checks:
            for key in ("field", "id_field", "uscc_field"):
                ref = check.params.get(key)
                if ref is not None and ref not in names:
                    raise ContractError(file, f"check '{check.rule}' refers to unknown field {ref!r}", field=f.name)
