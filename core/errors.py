"""The govhub exception tree: one root, one branch per room, structured attributes on each.

It lives in `core/`, the bottom floor: every room imports it and it imports no room.
Messages say what happened, what was received and what to do.
"""

from __future__ import annotations

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


class GovhubError(Exception):
    """Root of every error govhub raises on purpose."""


class SettingsError(GovhubError):
    """A setting is missing or malformed."""

    def __init__(self, variable: str, expected: str, received: object = None) -> None:
        self.variable = variable
        self.expected = expected
        self.received = received
        super().__init__(f"setting {variable} is invalid: expected {expected}, got {received!r}")


class ContractError(GovhubError):
    """A data contract cannot be loaded: names the file, the field and what is wrong."""

    def __init__(self, file: str, message: str, *, field: str | None = None) -> None:
        self.file = file
        self.field = field
        where = f"{file}, field '{field}'" if field else file
        super().__init__(f"{where}: {message}")


class SourceError(GovhubError):
    """A source system could not be read completely; nothing half-read is passed on."""

    def __init__(self, source: str, cause: str, *, retryable: bool = False) -> None:
        self.source = source
        self.cause = cause
        self.retryable = retryable
        super().__init__(f"source '{source}': {cause}")


class SchemaDriftError(SourceError):
    """The source's columns no longer match the contract and the contract says `freeze`."""

    def __init__(self, source: str, column: str, change: str) -> None:
        self.column = column
        self.change = change
        super().__init__(
            source,
            f"column '{column}' {change}; the contract's schema_drift policy is 'freeze'. "
            "Update the contract (or set schema_drift: evolve/quarantine) and re-run.",
        )


class QualityError(GovhubError):
    """The quality stage itself failed (not a bad record: those are quarantined)."""


class LakeError(GovhubError):
    """A Delta table could not be read or written."""


class StateError(GovhubError):
    """Pipeline state (watermarks, run records, locks) is inconsistent or held by another run."""


class PipelineError(GovhubError):
    """A pipeline stage failed; names the resource, the run and the stage."""

    def __init__(self, resource: str, run_id: str, stage: str, cause: str) -> None:
        self.resource = resource
        self.run_id = run_id
        self.stage = stage
        super().__init__(f"{resource} run {run_id} failed in {stage}: {cause}")


class AccessDenied(GovhubError):
    """A caller asked for something it is not granted."""
