"""The exception tree now lives in `core.errors`; this module keeps the old import path working."""

from core.errors import (
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

__all__ = [
    "AccessDenied",
    "ContractError",
    "GovhubError",
    "LakeError",
    "PipelineError",
    "QualityError",
    "SchemaDriftError",
    "SettingsError",
    "SourceError",
    "StateError",
]
