"""Issuing sealed answers: prepare each answer, then seal a group of them with ONE signature (a Merkle root).

The verification service prepares documents on the request threads; the log writer seals everything of
one group commit together (`seal_documents`), so under load one SM2 signature covers tens of answers.
`seal_answer` seals one answer alone: a tree of one, the same format.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from exchange.crypto import Algorithm, SealError, Signer, canonical_json
from exchange.crypto.merkle import inclusion_proofs, leaf_hash
from exchange.seal.formats import (
    SEAL_FORMAT,
    SealedAnswer,
    canonical_request,
    leaf_bytes,
    request_hash,
    root_message,
)

__all__ = ["prepare_answer", "seal_answer", "seal_documents", "serialize_sealed"]


def prepare_answer(
    *,
    request: Mapping[str, Any],
    answer: Mapping[str, Any],
    item: str,
    version: int,
    algorithm: Algorithm,
    issued_at: datetime | None = None,
) -> dict[str, Any]:
    """The document to seal, without its seal: answer (JSON-native values), item, version, time, request hash.

    The request is taken through `canonical_request` (item added, params defaulting to {}), so the hash
    is the one an approval system recomputes from the body it sent. A naive `issued_at` is refused.
    """
    if not isinstance(item, str) or not item:
        raise SealError("item", f"must be a non-empty string, got {item!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise SealError("version", f"must be a non-negative integer dataset version, got {version!r}")
    if not isinstance(answer, Mapping):
        raise SealError("answer", f"must be a JSON object (mapping), got {type(answer).__name__}")
    return {
        "answer": json.loads(canonical_json(answer)),
        "item": item,
        "version": version,
        "issued_at": _format_issued_at(issued_at),
        "request_hash": request_hash(canonical_request(request, item=item), algorithm=algorithm),
    }


def seal_documents(signer: Signer, documents: Sequence[dict[str, Any]]) -> list[SealedAnswer]:
    """Seal prepared documents together, in place: one Merkle tree, one signature over its root.

    Each document gains ``seal`` = {format, algorithm, key_id, tree_size, leaf_index, path, root,
    signature}; the same dicts are returned. Returns [] for no documents.
    """
    if not documents:
        return []
    algorithm = signer.algorithm
    leaves = [leaf_hash(leaf_bytes(d), algorithm=algorithm) for d in documents]
    root, paths = inclusion_proofs(leaves, algorithm=algorithm)
    root_hex = root.hex()
    message = root_message(algorithm=algorithm, key_id=signer.key_id, tree_size=len(documents), root=root_hex)
    signature = base64.b64encode(signer.sign(message)).decode("ascii")
    for index, (document, path) in enumerate(zip(documents, paths, strict=True)):
        document["seal"] = {
            "format": SEAL_FORMAT,
            "algorithm": algorithm,
            "key_id": signer.key_id,
            "tree_size": len(documents),
            "leaf_index": index,
            "path": [p.hex() for p in path],
            "root": root_hex,
            "signature": signature,
        }
    return documents  # type: ignore[return-value]


def seal_answer(
    signer: Signer,
    *,
    request: Mapping[str, Any],
    answer: Mapping[str, Any],
    item: str,
    version: int,
    issued_at: datetime | None = None,
) -> SealedAnswer:
    """Seal one answer to its request with the hub key (a tree of one) and return the document (a dict).

    The answer is normalised to JSON-native values first (Decimal -> string, date -> ISO string, see
    `canonical_json`), so however the caller later serialises the document, its content is exactly
    what was signed. `issued_at` defaults to now; a naive datetime is refused.
    """
    document = prepare_answer(
        request=request, answer=answer, item=item, version=version, algorithm=signer.algorithm, issued_at=issued_at
    )
    return seal_documents(signer, [document])[0]


def serialize_sealed(document: Mapping[str, Any]) -> bytes:
    """The document as canonical UTF-8 JSON, the recommended form to store or send (any JSON works)."""
    return canonical_json(document)


def _format_issued_at(issued_at: datetime | None) -> str:
    """UTC ISO-8601 with milliseconds and Z; refuses naive datetimes."""
    if issued_at is None:
        issued_at = datetime.now(UTC)
    elif issued_at.tzinfo is None or issued_at.utcoffset() is None:
        raise SealError("issued_at", f"{issued_at.isoformat()} has no timezone; pass an aware datetime")
    return issued_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
