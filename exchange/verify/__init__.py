"""Verification instead of paper proofs (国务院令第716号): a catalogue of items, a serving store, clients,
and a service that answers approval systems with sealed, logged answers. See exchange/README.md."""

from exchange.verify.clients import (
    DEMO_CLIENTS,
    ClientInfo,
    ClientRegistry,
    RateLimiter,
    VerificationAnswerRecord,
    VerificationClient,
    check_key,
    hash_key,
    register_client,
    rotate_key,
    seed_demo_clients,
)
from exchange.verify.errors import VerificationError
from exchange.verify.items import ITEMS_FILE, Param, VerificationItem, load_items
from exchange.verify.logwriter import LogWriter
from exchange.verify.service import MAX_BATCH, VerificationService, build_request, subject_hash
from exchange.verify.store import (
    ServingStore,
    Snapshot,
    StoreUnavailable,
    build_store_file,
    refresh_serving_store,
    store_layout,
)

__all__ = [
    "DEMO_CLIENTS",
    "ITEMS_FILE",
    "MAX_BATCH",
    "ClientInfo",
    "ClientRegistry",
    "LogWriter",
    "Param",
    "RateLimiter",
    "ServingStore",
    "Snapshot",
    "StoreUnavailable",
    "VerificationAnswerRecord",
    "VerificationClient",
    "VerificationError",
    "VerificationItem",
    "VerificationService",
    "build_request",
    "build_store_file",
    "check_key",
    "hash_key",
    "load_items",
    "refresh_serving_store",
    "register_client",
    "rotate_key",
    "seed_demo_clients",
    "store_layout",
    "subject_hash",
]
