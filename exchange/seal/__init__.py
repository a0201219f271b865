"""Sealed answers: the hub signs verification answers, bound to the question, checkable offline.

A sealed answer (format ``govhub-seal/2``) is one JSON object::

    {
      "answer":       {...},                       # the answer, JSON-native values only
      "item":         "person_alive",              # the verification item asked
      "version":      3,                           # dataset version the answer was read from
      "issued_at":    "2026-05-01T08:00:00.123Z",  # UTC, milliseconds
      "request_hash": "<64 hex>",                  # SM3 (sm2) / SHA-256 (ed25519) of canonical_json(request)
      "seal": {
        "format": "govhub-seal/2", "algorithm": "sm2" | "ed25519", "key_id": "<16 hex>",
        "tree_size": 37, "leaf_index": 5, "path": ["<64 hex>", ...], "root": "<64 hex>",
        "signature": "<base64>"                    # over canonical_json({format, algorithm, key_id, tree_size, root})
      }
    }

The answers sealed together (one group commit of the exchange log) are the leaves of a Merkle tree,
leaf = H(0x00 ‖ canonical_json(document without seal)); one signature covers the root; each answer
carries its audit path. An answer sealed alone is a tree of one (empty path, root = its leaf).
Answers in the earlier ``govhub-seal/1`` format (one signature per answer) still verify.
"""

from exchange.seal.check import VerifyResult, verify_file, verify_sealed
from exchange.seal.formats import (
    SEAL_FORMAT,
    SEAL_FORMAT_V1,
    Seal,
    SealedAnswer,
    canonical_request,
    leaf_bytes,
    request_hash,
    root_message,
    signed_bytes,
)
from exchange.seal.issue import prepare_answer, seal_answer, seal_documents, serialize_sealed

__all__ = [
    "SEAL_FORMAT",
    "SEAL_FORMAT_V1",
    "Seal",
    "SealedAnswer",
    "VerifyResult",
    "canonical_request",
    "leaf_bytes",
    "prepare_answer",
    "request_hash",
    "root_message",
    "seal_answer",
    "seal_documents",
    "serialize_sealed",
    "signed_bytes",
    "verify_file",
    "verify_sealed",
]
