"""Data contracts: one YAML per resource, loaded into typed objects and Arrow schemas."""

from schemas.arrow import arrow_schema, arrow_type
from schemas.contract import CHECK_RULES, GB32100_SUB_CHECKS, Check, CodeTable, Contract, Field, Source, parse_contract
from schemas.errors import (
    AccessDenied,
    ContractError,
    GovhubError,
    LakeError,
    PipelineError,
    QualityError,
    SchemaDriftError,
    SettingsError,
    SourceError,
    StateError,
)
from schemas.loader import CONTRACTS_DIR, dependency_order, dependents, load_all, load_contract, load_file, load_systems

__all__ = [
    "CHECK_RULES",
    "CONTRACTS_DIR",
    "GB32100_SUB_CHECKS",
    "AccessDenied",
    "Check",
    "CodeTable",
    "Contract",
    "ContractError",
    "Field",
    "GovhubError",
    "LakeError",
    "PipelineError",
    "QualityError",
    "SchemaDriftError",
    "SettingsError",
    "Source",
    "SourceError",
    "StateError",
    "arrow_schema",
    "arrow_type",
    "dependency_order",
    "dependents",
    "load_all",
    "load_contract",
    "load_file",
    "load_systems",
    "parse_contract",
]
