"""Connectors: read a source system (sql, http, filedrop) into Arrow record batches.

`connector_for(contract, config).extract(state)` returns a one-shot `Extraction`; its
`proposed_state` exists only after a complete read, and the caller commits it after storing the
batches. Connectors never commit state themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import DEFAULT_BATCH_SIZE, Connector, Extraction, SchemaDiff, SourceProblem
from connectors.filedrop import FiledropConnector
from connectors.http import HttpConnector
from connectors.sql import SqlConnector
from schemas import Contract

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Connector",
    "Extraction",
    "FiledropConnector",
    "HttpConnector",
    "SchemaDiff",
    "SourceProblem",
    "SqlConnector",
    "connector_for",
]

_KINDS: dict[str, type[Connector]] = {
    "sql": SqlConnector,
    "http": HttpConnector,
    "filedrop": FiledropConnector,
}


def connector_for(contract: Contract, config: Mapping[str, Any], *, batch_size: int = DEFAULT_BATCH_SIZE) -> Connector:
    """The connector for the contract's `source.kind`, configured with the source's endpoint settings.

    config: sql `{"url"}`; http `{"base_url", "token", "timeout", "max_retries", ...}`;
    filedrop `{"inbox"}`. Batches hold at most `batch_size` rows.
    """
    return _KINDS[contract.source.kind](contract, config, batch_size=batch_size)
