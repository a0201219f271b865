"""The exchange log: every exchange as an append-only, hash-chained event with signed checkpoints."""

from exchange.log.archive import ArchiveInfo
from exchange.log.checks import (
    SingleFlight,
    catch_up_checkpoints,
    check_full,
    check_incremental,
    last_full_check,
    verified_mark,
)
from exchange.log.errors import ChainBrokenError, ExchangeLogError
from exchange.log.log import ExchangeLog, Outcome, Signer
from exchange.log.models import (
    ArchiveRecord,
    ChainCheck,
    ChainHead,
    Checkpoint,
    EventType,
    ExchangeEvent,
    LogMark,
    Rollup,
)
from exchange.log.refusals import RefusalWindow
from exchange.log.report import ChainReport, format_report
from exchange.log.rollup import refresh_rollups

__all__ = [
    "ArchiveInfo",
    "ArchiveRecord",
    "ChainBrokenError",
    "ChainCheck",
    "ChainHead",
    "ChainReport",
    "Checkpoint",
    "EventType",
    "ExchangeEvent",
    "ExchangeLog",
    "ExchangeLogError",
    "LogMark",
    "Outcome",
    "RefusalWindow",
    "Rollup",
    "Signer",
    "SingleFlight",
    "catch_up_checkpoints",
    "check_full",
    "check_incremental",
    "format_report",
    "last_full_check",
    "refresh_rollups",
    "verified_mark",
]
