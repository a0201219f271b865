"""The exchange log: every exchange as an append-only, hash-chained event with signed checkpoints."""

from exchange.log.archive import ArchiveInfo
from exchange.log.errors import ChainBrokenError, ExchangeLogError
from exchange.log.log import ExchangeLog, Outcome, Signer
from exchange.log.models import ArchiveRecord, ChainHead, Checkpoint, EventType, ExchangeEvent
from exchange.log.verify import ChainReport, format_report

__all__ = [
    "ArchiveInfo",
    "ArchiveRecord",
    "ChainBrokenError",
    "ChainHead",
    "ChainReport",
    "Checkpoint",
    "EventType",
    "ExchangeEvent",
    "ExchangeLog",
    "ExchangeLogError",
    "Outcome",
    "Signer",
    "format_report",
]
