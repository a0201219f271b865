"""Errors of the exchange log, on the govhub tree."""

from __future__ import annotations

from schemas.errors import GovhubError, StateError

__all__ = ["ChainBrokenError", "ExchangeLogError"]


class ExchangeLogError(GovhubError):
    """An event or call was refused before anything was written (bad type, outcome, field size...)."""


class ChainBrokenError(StateError):
    """The chain failed verification where an operation needs it intact (e.g. before archiving)."""

    def __init__(self, message: str, *, seq: int | None = None, event_id: str | None = None) -> None:
        self.seq = seq
        self.event_id = event_id
        super().__init__(message)
