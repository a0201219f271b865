"""The check rules a contract may use: one entry per rule with its parameters and GB/T 36344 dimension.

The entry is the rule's declaration; its vectorised implementation is registered against the same
name in `quality.compile` (`@builds("range")`), which refuses to import while a declared rule has no
builder. Contracts are loaded without `quality`, so the declaration lives here, on the lower floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CHECK_RULES",
    "DEFAULT_DIMENSION",
    "GB32100_SUB_CHECKS",
    "RELAX_MODES",
    "RULES",
    "Dimension",
    "RuleParams",
    "RuleSpec",
]

# GB 32100 sub-checks a contract may relax (`relax: {check_char: warn}`): all but the format, which the
# others rely on. The same names as quality.codes.RELAXABLE_USCC_REASONS (a test keeps them equal).
GB32100_SUB_CHECKS = ("authority_type", "region", "org_code", "check_char")
RELAX_MODES = ("warn", "off")
Dimension = Literal["completeness", "conformance", "accuracy", "consistency", "uniqueness", "timeliness"]


class RuleParams(BaseModel):
    """A rule's parameters as written in a contract; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(RuleParams):
    """The rule takes no parameters."""


class UsccParams(RuleParams):
    relax: dict[Literal["authority_type", "region", "org_code", "check_char"], Literal["warn", "off"]] | None = Field(
        default=None, description="Sub-checks to flag only (warn) or skip (off), e.g. {check_char: warn}."
    )

    @field_validator("relax", mode="before")
    @classmethod
    def _relaxable(cls, raw: Any) -> Any:
        """`relax`: sub-check -> `warn` (row accepted, flagged) or `off` (not checked)."""
        if raw is None:
            return raw
        if not isinstance(raw, dict) or not raw:
            raise ValueError(f"relax must map sub-checks to 'warn' or 'off', got {raw!r}")
        for sub, mode in raw.items():
            if sub not in GB32100_SUB_CHECKS or mode not in RELAX_MODES:
                choices = f"sub-checks {list(GB32100_SUB_CHECKS)}, modes {list(RELAX_MODES)}"
                raise ValueError(f"cannot relax {sub!r} to {mode!r}; {choices}")
        return raw


class RegionParams(RuleParams):
    prefix: str | None = Field(default=None, description="Only codes under this GB/T 2260 prefix (e.g. 4309).")


class EnumParams(RuleParams):
    table: str = Field(description="A code table defined under the contract's `code_tables`.")


class BoundsParams(RuleParams):
    min: Any = Field(default=None, description="Lowest allowed value, in the field's type (dates as YYYY-MM-DD).")
    max: Any = Field(default=None, description="Highest allowed value, in the field's type.")


class LengthParams(RuleParams):
    min: int | None = Field(default=None, ge=0, description="Fewest characters.")
    max: int | None = Field(default=None, ge=1, description="Most characters.")


class PatternParams(RuleParams):
    regex: str = Field(description="A Python regular expression the whole value must match.")


class OtherFieldParams(RuleParams):
    field: str = Field(description="The field this one may not be earlier than.")


class IdFieldParams(RuleParams):
    id_field: str = Field(description="The field holding the citizen ID (GB 11643) to compare with.")


class UsccFieldParams(RuleParams):
    uscc_field: str = Field(description="The field holding the USCC (GB 32100) to compare with.")


class ReferencesParams(RuleParams):
    targets: str | list[str] = Field(description="'resource.field' keys the value must exist in (any of them).")
    when: dict[str, Any] | None = Field(default=None, description="Check only rows whose fields have these values.")


@dataclass(frozen=True)
class RuleSpec:
    """One check rule: its name, parameters, the quality dimension it reports to, and what it checks."""

    name: str
    params: type[RuleParams]
    dimension: Dimension
    summary: str

    @property
    def required(self) -> frozenset[str]:
        return frozenset(n for n, f in self.params.model_fields.items() if f.is_required())

    @property
    def optional(self) -> frozenset[str]:
        return frozenset(self.params.model_fields) - self.required


RULES: dict[str, RuleSpec] = {
    spec.name: spec
    for spec in (
        RuleSpec("gb11643", NoParams, "accuracy", "citizen ID number: format, region, birth date, check digit"),
        RuleSpec("gb32100", UsccParams, "accuracy", "unified social credit code: format, authority, region, checks"),
        RuleSpec("gb2260", RegionParams, "conformance", "administrative division code (GB/T 2260)"),
        RuleSpec("enum", EnumParams, "conformance", "a code from the named code table"),
        RuleSpec("range", BoundsParams, "accuracy", "between min and max (inclusive)"),
        RuleSpec("length", LengthParams, "conformance", "text length between min and max characters"),
        RuleSpec("pattern", PatternParams, "conformance", "matches a regular expression"),
        RuleSpec("not_future", NoParams, "accuracy", "not after today (Beijing time)"),
        RuleSpec("not_before_field", OtherFieldParams, "consistency", "not earlier than another field"),
        RuleSpec("id_birth_date", IdFieldParams, "consistency", "equals the birth date in the citizen ID"),
        RuleSpec("id_gender", IdFieldParams, "consistency", "agrees with the gender digit of the citizen ID"),
        RuleSpec("uscc_entity_type", UsccFieldParams, "consistency", "agrees with the USCC's entity type"),
        RuleSpec("references", ReferencesParams, "consistency", "exists in another resource's published field"),
    )
}

# rule name -> (required params, optional params), derived from RULES
CHECK_RULES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    name: (spec.required, spec.optional) for name, spec in RULES.items()
}
# the dimension each rule reports to unless the contract overrides it; also the built-in row checks
DEFAULT_DIMENSION: dict[str, str] = {
    **{name: spec.dimension for name, spec in RULES.items()},
    "required": "completeness",
    "type": "conformance",
    "unique": "consistency",
}
