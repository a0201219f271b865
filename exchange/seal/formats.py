"""The sealed-answer formats: field sets, the canonical request, and the exact bytes each format hashes or signs.

``govhub-seal/2`` (issued now): the answers of one group commit are leaves of a Merkle tree (SM3 for
sm2, SHA-256 for ed25519; `exchange.crypto.merkle`) whose root is signed once. ``govhub-seal/1``
(issued until the batch seals came): one signature per answer. Both verify; see exchange/README.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from exchange.crypto import Algorithm, SealError, canonical_json, digest_hex

__all__ = [
    "SEAL_FORMAT",
    "SEAL_FORMAT_V1",
    "Seal",
    "SealedAnswer",
    "canonical_request",
    "leaf_bytes",
    "request_hash",
    "root_message",
    "signed_bytes",
]

SEAL_FORMAT = "govhub-seal/2"
SEAL_FORMAT_V1 = "govhub-seal/1: canonical_json(document without seal.signature)"
TOP_FIELDS = frozenset({"answer", "item", "version", "issued_at", "request_hash", "seal"})
SEAL_FIELDS_V1 = frozenset({"algorithm", "key_id", "signed", "signature"})
SEAL_FIELDS_V2 = frozenset({"format", "algorithm", "key_id", "tree_size", "leaf_index", "path", "root", "signature"})
REQUEST_MEMBERS = ("case_number", "purpose", "subject", "subjects", "params")


class Seal(TypedDict):
    """The ``seal`` member of a ``govhub-seal/2`` answer."""

    format: str
    algorithm: Algorithm
    key_id: str
    tree_size: int
    leaf_index: int
    path: list[str]
    root: str
    signature: str


class SealedAnswer(TypedDict):
    """A sealed answer document (field meanings in exchange/README.md)."""

    answer: dict[str, Any]
    item: str
    version: int
    issued_at: str
    request_hash: str
    seal: Seal


def canonical_request(request: Mapping[str, Any], *, item: str) -> dict[str, Any]:
    """The request a seal binds: the body as sent, plus ``item`` (from the URL) and ``params`` ({} when absent).

    An approval system that saved exactly the body it posted gets the same object back, and so does one
    that already added the item or an empty params: both sides apply this before hashing.
    """
    if not isinstance(request, Mapping):
        raise SealError("request", f"must be a JSON object (mapping), got {type(request).__name__}")
    out = {"item": item, **request}
    if out.get("params") is None:
        out["params"] = {}
    return out


def request_hash(request: Mapping[str, Any], *, algorithm: Algorithm = "sm2") -> str:
    """Hex digest of canonical_json(request) as given: SM3 for sm2 seals, SHA-256 for ed25519 seals."""
    if not isinstance(request, Mapping):
        raise SealError("request", f"must be a JSON object (mapping), got {type(request).__name__}")
    return digest_hex(canonical_json(request), algorithm=algorithm)


def leaf_bytes(document: Mapping[str, Any]) -> bytes:
    """``govhub-seal/2``: a leaf's data = canonical JSON of the document without its ``seal``."""
    return canonical_json({k: v for k, v in document.items() if k != "seal"})


def root_message(*, algorithm: str, key_id: str, tree_size: int, root: str) -> bytes:
    """``govhub-seal/2``: the bytes the one signature of a tree covers."""
    return canonical_json(
        {"format": SEAL_FORMAT, "algorithm": algorithm, "key_id": key_id, "tree_size": tree_size, "root": root}
    )


def signed_bytes(document: Mapping[str, Any]) -> bytes:
    """The bytes a document's signature covers: the tree's root message (v2), or the document minus
    seal.signature (v1)."""
    seal = document["seal"]
    if seal.get("format") == SEAL_FORMAT:
        return root_message(
            algorithm=seal["algorithm"], key_id=seal["key_id"], tree_size=seal["tree_size"], root=seal["root"]
        )
    return canonical_json({**document, "seal": {k: v for k, v in seal.items() if k != "signature"}})
