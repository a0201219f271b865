"""The shape of a contract file as pydantic models (unknown keys refused), and its JSON Schema.

Regenerate the committed schema after changing a model or a rule: `python -m schemas`.

`parse_contract` validates every file against `ContractFile` first, so a misspelt key, a wrong type
or an unknown rule fails at load time naming the file and the field; the meaning (keys that point
at fields, code tables, regexes) is checked after. `contract_json_schema()` is what contract authors
point their editor at (`schemas/contract.schema.json`, kept current by a test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from core.errors import ContractError
from schemas.rules import RULES, Dimension

__all__ = ["JSON_SCHEMA_FILE", "ContractFile", "contract_json_schema", "validate_shape", "write_json_schema"]

JSON_SCHEMA_FILE = Path(__file__).resolve().with_name("contract.schema.json")
DEFAULT_PENDING_GRACE = 3  # versions of the referenced resources a pending row waits for its reference

_SNAKE = r"^[a-z][a-z0-9_]*$"
_TYPE = r"^(string|integer|float|boolean|date|timestamp|decimal\(\d+,\s*\d+\))$"
Code = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _check_model(name: str) -> type[BaseModel]:
    """The YAML shape of one rule's check: its parameters plus `rule`, `severity` and `dimension`."""
    spec = RULES[name]
    fields: dict[str, Any] = {
        "rule": (Literal[name], ...),
        "severity": (Literal["error", "warn"], Field(default="error", description="warn marks rows, never rejects.")),
        "dimension": (
            Dimension | None,
            Field(default=None, description=f"GB/T 36344 dimension (default {spec.dimension})."),
        ),
    }
    model: type[BaseModel] = create_model(
        f"Check_{name}", __base__=spec.params, __doc__=f"`{name}`: {spec.summary}.", **fields
    )
    return model


_BARE_RULES = tuple(name for name, spec in RULES.items() if not spec.required)
if TYPE_CHECKING:
    CheckEntry = Any
else:  # a bare rule name, or a mapping told apart by its `rule` (pydantic needs the Union objects)
    CheckEntry = Union[  # noqa: UP007
        Literal[_BARE_RULES],
        Annotated[Union[tuple(_check_model(name) for name in RULES)], Field(discriminator="rule")],  # noqa: UP007
    ]


class FieldFile(_Strict):
    """One data item (信息项)."""

    name: str = Field(pattern=_SNAKE)
    label: str = Field(min_length=1, description="The Chinese name (信息项名称).")
    label_en: str | None = None
    type: str = Field(pattern=_TYPE, description="string, integer, float, boolean, date, timestamp or decimal(p,s).")
    pii: Literal["none", "personal", "identifier", "sensitive"] = "none"
    required: bool = False
    checks: list[CheckEntry] = Field(default_factory=list)
    description: str = ""


class SourceFile(BaseModel):
    """Where the rows come from; keys beyond these four are the connector's options (table, endpoint...)."""

    model_config = ConfigDict(extra="allow")

    system: str = Field(description="A system named in schemas/systems.yaml.")
    kind: Literal["sql", "http", "filedrop"]
    cursor: str | None = Field(default=None, description="The field incremental reads continue from.")
    deleted_flag: str | None = Field(default=None, description="Source column marking deleted rows.")


class ProviderFile(_Strict):
    code: Code = Field(description="The providing department's USCC.")
    name: Code


class ClassificationFile(_Strict):
    class_: Code = Field(alias="class")
    class_code: str | None = None
    item: str | None = None
    item_code: str | None = None
    category: str | None = None
    category_code: str | None = None
    code: Code = Field(description="类 + 项 + 目 code (GB/T 21063).")


class SharingFile(_Strict):
    type: Literal["无条件共享", "有条件共享", "不予共享"]
    condition: str | None = Field(default=None, description="Required unless 无条件共享 (国发〔2016〕51号).")
    method: str | None = None


class OpennessFile(_Strict):
    open: bool = False
    condition: str | None = None


class DatasetFile(_Strict):
    min_rows: int | None = Field(default=None, ge=0)
    max_null_share: dict[str, float] | None = None


class CodeTableFile(_Strict):
    standard: str = ""
    codes: dict[str | int, str] = Field(min_length=1)


class ContractFile(_Strict):
    """A govhub data contract: one resource, its source, its fields and their checks."""

    resource: str = Field(pattern=_SNAKE, description="Must equal the file name.")
    title: Code
    title_en: str | None = None
    abstract: str = ""
    source: SourceFile
    provider: ProviderFile
    classification: ClassificationFile
    sharing: SharingFile
    openness: OpennessFile | None = None
    update_cycle: Literal["实时", "日", "周", "月", "季", "半年", "年", "其他"]
    primary_key: str | list[str]
    fields: list[FieldFile] = Field(min_length=1)
    code_tables: dict[str, CodeTableFile] = Field(default_factory=dict)
    schema_drift: Literal["evolve", "freeze", "quarantine"] = "freeze"
    deletes: Literal["delete", "tombstone"] = "delete"
    dataset: DatasetFile | None = None
    related: list[str] = Field(default_factory=list)
    pending_grace: int = Field(
        default=DEFAULT_PENDING_GRACE,
        ge=1,
        description="Versions of the referenced resources a row with a late reference waits before it is rejected.",
    )

    @field_validator("pending_grace", mode="before")
    @classmethod
    def _whole_versions(cls, raw: Any) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            versions = "a whole number of referenced-resource versions (1 or more)"
            raise ValueError(f"pending_grace must be {versions}, got {raw!r}")
        return raw


def contract_json_schema() -> dict[str, Any]:
    """The JSON Schema of a contract file (draft 2020-12), for editors and external checks."""
    schema = ContractFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "govhub data contract"
    return schema


def validate_shape(raw: Any, *, file: str) -> ContractFile:
    """Validate a parsed YAML document against `ContractFile`; the first problem as a ContractError."""
    try:
        return ContractFile.model_validate(raw)
    except ValidationError as e:
        raise _contract_error(e, raw, file) from None


def _contract_error(error: ValidationError, raw: Any, file: str) -> ContractError:
    problems = error.errors()
    # a union tries every member: prefer the member that explains itself over "not one of the bare names"
    preferred = [p for p in problems if not any(str(part).startswith("literal[") for part in p["loc"])]
    problem = (preferred or problems)[0]
    loc = [part for part in problem["loc"] if not str(part).startswith(("literal[", "function-"))]
    field = None
    if len(loc) >= 2 and loc[0] == "fields" and isinstance(loc[1], int):
        spec = raw["fields"][loc[1]] if isinstance(raw, dict) else None
        field = str(spec.get("name")) if isinstance(spec, dict) and spec.get("name") else f"#{loc[1] + 1}"
        loc = loc[2:]
        if len(loc) >= 2 and loc[0] == "checks" and isinstance(loc[1], int) and isinstance(spec, dict):
            return ContractError(file, _check_message(spec["checks"][loc[1]], problems), field=field)
    return ContractError(file, _message(problem, loc), field=field)


def _message(problem: Any, loc: list[Any]) -> str:
    where = ".".join(str(part) for part in loc) or "the contract"
    kind = problem["type"]
    if kind == "missing":
        if loc == ["label"]:
            return "every field needs a Chinese label (信息项名称)"
        return f"missing required key '{where}'"
    if kind == "value_error":
        return str(problem["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"unknown key '{where}'; see schemas/contract.schema.json for the allowed keys"
    if kind == "literal_error":
        expected = problem.get("ctx", {}).get("expected", "")
        return f"{where} must be one of {expected}, got {problem['input']!r}"
    if kind == "string_pattern_mismatch" and loc == ["type"]:
        return (
            f"unknown type {problem['input']!r}; use string, integer, float, boolean, date, timestamp or decimal(p,s)"
        )
    if kind == "string_pattern_mismatch":
        return f"{where} must be a snake_case name, got {problem['input']!r}"
    return f"{where}: {problem['msg']} (got {problem.get('input')!r})"


def _check_message(raw_check: Any, problems: list[Any]) -> str:
    rule = raw_check if isinstance(raw_check, str) else raw_check.get("rule") if isinstance(raw_check, dict) else None
    if rule not in RULES:
        return f"unknown check rule {rule!r}; known rules: {sorted(RULES)}"
    spec = RULES[rule]
    given = set(raw_check) - {"rule", "severity", "dimension"} if isinstance(raw_check, dict) else set()
    missing, extra = sorted(spec.required - given), sorted(given - spec.required - spec.optional)
    if missing or extra:
        return f"check '{rule}': missing parameter(s) {missing}, unknown parameter(s) {extra}"
    details = "; ".join(
        f"{p['loc'][-1]}: {p['msg']}"
        for p in problems
        if rule in str(p["loc"]) and not any(str(part).startswith("literal[") for part in p["loc"])
    )
    return f"check '{rule}': {details or problems[0]['msg']}"


def write_json_schema(target: Path = JSON_SCHEMA_FILE) -> Path:
    """Write the contract JSON Schema (the committed `schemas/contract.schema.json`)."""
    target.write_text(json.dumps(contract_json_schema(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target
