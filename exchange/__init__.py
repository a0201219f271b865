"""Exchange: deliveries to subscribers, the exchange log, verification questions and sealed answers."""

from exchange.crypto import (
    Algorithm,
    SealError,
    Signer,
    canonical_json,
    load_or_create_signer,
    sm3_hex,
    verify_signature,
)
from exchange.delivery import Delivery, DeliveryError, DeliveryResult, deliver_resource, pull_changes
from exchange.log import (
    ArchiveInfo,
    ChainBrokenError,
    ChainReport,
    Checkpoint,
    EventType,
    ExchangeEvent,
    ExchangeLog,
    ExchangeLogError,
    format_report,
)
from exchange.seal import SealedAnswer, VerifyResult, request_hash, seal_answer, verify_file, verify_sealed
from exchange.verify import VerificationError, VerificationService, load_items, refresh_serving_store

__all__ = [
    "Algorithm",
    "ArchiveInfo",
    "ChainBrokenError",
    "ChainReport",
    "Checkpoint",
    "Delivery",
    "DeliveryError",
    "DeliveryResult",
    "EventType",
    "ExchangeEvent",
    "ExchangeLog",
    "ExchangeLogError",
    "SealError",
    "SealedAnswer",
    "Signer",
    "VerificationError",
    "VerificationService",
    "VerifyResult",
    "canonical_json",
    "deliver_resource",
    "format_report",
    "load_items",
    "load_or_create_signer",
    "pull_changes",
    "refresh_serving_store",
    "request_hash",
    "seal_answer",
    "sm3_hex",
    "verify_file",
    "verify_sealed",
    "verify_signature",
]
