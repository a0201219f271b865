"""The bottom floor: errors, settings, the metadata base and engine, clocks, ids. Imports no room."""

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
from core.time import BEIJING, BEIJING_TZ_NAME, beijing_now, beijing_today, to_beijing, utcnow

__all__ = [
    "BEIJING",
    "BEIJING_TZ_NAME",
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
    "beijing_now",
    "beijing_today",
    "to_beijing",
    "utcnow",
]
