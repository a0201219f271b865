"""Checking sealed answers offline: both formats (govhub-seal/2 Merkle-batch, govhub-seal/1 single).

Checks, in order: well-formed (``malformed``), sealed by this public key (``key_id``), the content
against the signature (``signature``: for v2 the leaf's path must lead to the signed root and the
root's signature must hold; for v1 the signature over the document), and, if given, the request the
approval system sent (``request_hash``, after `canonical_request`). `exchange/seal_check_reference.py`
does the same without govhub.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from exchange.crypto import SealError, canonical_json, inspect_public_key, verify_signature
from exchange.crypto.merkle import leaf_hash, root_from_path
from exchange.seal.formats import (
    SEAL_FIELDS_V1,
    SEAL_FIELDS_V2,
    SEAL_FORMAT,
    SEAL_FORMAT_V1,
    TOP_FIELDS,
    canonical_request,
    leaf_bytes,
    request_hash,
    signed_bytes,
)

__all__ = ["VerifyResult", "verify_file", "verify_sealed"]

_ISSUED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_MAX_PATH = 64

Reason = Literal["signature", "key_id", "request_hash", "malformed"]


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking a sealed answer: `reason` says which check failed, `message` says it in words."""

    ok: bool
    reason: Reason | None
    message: str
    document: dict[str, Any] | None = None


def verify_sealed(
    document: Mapping[str, Any] | bytes | str,
    *,
    public_key_pem: str,
    request: Mapping[str, Any] | None = None,
) -> VerifyResult:
    """Check a sealed answer (either format) offline with the hub's public key; also its request if given.

    `request` may be exactly the body the approval system sent: it is completed with the answer's item
    and ``params: {}`` (`canonical_request`) before hashing. Any changed character of the content fails.
    Raises `SealError` only when `public_key_pem` is not a key.
    """
    key = inspect_public_key(public_key_pem)
    try:
        doc = _parse(document)
        _check_shape(doc)
        signature = _decode_signature(doc["seal"]["signature"])
    except _Malformed as e:
        return VerifyResult(False, "malformed", f"not a valid govhub sealed answer: {e}")
    seal = doc["seal"]
    if seal["algorithm"] != key.algorithm or seal["key_id"] != key.key_id:
        return VerifyResult(
            False,
            "key_id",
            f"sealed with {seal['algorithm']} key {seal['key_id']}, but the public key given is "
            f"{key.algorithm} key {key.key_id}; check it with the hub's published key {seal['key_id']}",
            doc,
        )
    if seal.get("format") == SEAL_FORMAT:
        path = [bytes.fromhex(p) for p in seal["path"]]
        leaf = leaf_hash(leaf_bytes(doc), algorithm=key.algorithm)
        root = root_from_path(leaf, seal["leaf_index"], seal["tree_size"], path, algorithm=key.algorithm)
        if root is None or root.hex() != seal["root"]:
            return VerifyResult(
                False,
                "signature",
                f"the signature does not match the content: the answer is not leaf {seal['leaf_index']} of the "
                f"signed tree (root {seal['root'][:16]}…); the document was changed after sealing",
                doc,
            )
    if not verify_signature(
        public_key_pem=public_key_pem, algorithm=key.algorithm, data=signed_bytes(doc), signature=signature
    ):
        return VerifyResult(
            False,
            "signature",
            f"the signature does not match the content: the document was changed after sealing "
            f"(or was never sealed by key {key.key_id})",
            doc,
        )
    if request is not None:
        try:
            expected = request_hash(canonical_request(request, item=doc["item"]), algorithm=key.algorithm)
        except SealError as e:
            return VerifyResult(False, "request_hash", f"the request given cannot be hashed: {e}", doc)
        if expected != doc["request_hash"]:
            return VerifyResult(
                False,
                "request_hash",
                f"the answer was sealed for a different request: its request hash is "
                f"{doc['request_hash']}, the request given hashes to {expected} (the request is the body "
                f"you sent; item and params are filled in as the hub does)",
                doc,
            )
    batch = f", one of {seal['tree_size']} answers under one signature" if seal.get("tree_size", 1) > 1 else ""
    return VerifyResult(
        True,
        None,
        f"valid seal: item {doc['item']} version {doc['version']}, issued {doc['issued_at']} "
        f"by {key.algorithm} key {key.key_id}{batch}" + ("" if request is None else ", for the request given"),
        doc,
    )


def verify_file(path: Path, *, public_key_pem: str, request: Mapping[str, Any] | None = None) -> VerifyResult:
    """`verify_sealed` on a saved file (UTF-8 JSON, BOM tolerated); an unreadable file is ``malformed``."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return VerifyResult(False, "malformed", f"cannot read {path}: {e.strerror or e}")
    result = verify_sealed(data, public_key_pem=public_key_pem, request=request)
    return VerifyResult(result.ok, result.reason, f"{path}: {result.message}", result.document)


class _Malformed(Exception):
    """Internal: the document is not a well-formed sealed answer (message says why)."""


def _parse(document: Mapping[str, Any] | bytes | str) -> dict[str, Any]:
    """JSON text or a mapping -> dict; duplicate keys and NaN/Infinity are refused."""
    if isinstance(document, Mapping):
        return dict(document)
    try:
        text = document.decode("utf-8-sig") if isinstance(document, bytes | bytearray) else document
        parsed = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, TypeError, RecursionError) as e:  # recursion: nested too deep
        raise _Malformed(f"not UTF-8 JSON ({type(e).__name__}: {str(e)[:200]})") from e
    if not isinstance(parsed, dict):
        raise _Malformed("the document is not a JSON object")
    return parsed


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_shape(doc: dict[str, Any]) -> None:
    """Raise _Malformed unless every field is present, of the right type, and nothing else is."""
    _check_fields(doc, TOP_FIELDS, "document")
    seal = doc["seal"]
    if not isinstance(seal, dict):
        raise _Malformed("seal is not an object")
    v2 = "format" in seal
    if v2 and seal["format"] != SEAL_FORMAT:
        raise _Malformed(f"unknown seal format {seal['format']!r}; expected {SEAL_FORMAT!r}")
    _check_fields(seal, SEAL_FIELDS_V2 if v2 else SEAL_FIELDS_V1, "seal")
    checks = [
        (isinstance(doc["answer"], dict), "answer is not an object"),
        (isinstance(doc["item"], str) and doc["item"] != "", "item is not a non-empty string"),
        (type(doc["version"]) is int and doc["version"] >= 0, "version is not a non-negative integer"),
        (
            isinstance(doc["issued_at"], str) and _ISSUED_AT.fullmatch(doc["issued_at"]),
            "issued_at is not UTC ISO-8601",
        ),
        (
            isinstance(doc["request_hash"], str) and _HEX64.fullmatch(doc["request_hash"]),
            "request_hash is not 64 hex",
        ),
        (seal["algorithm"] in ("sm2", "ed25519"), f"unknown seal algorithm {seal['algorithm']!r}"),
        (isinstance(seal["key_id"], str) and _HEX16.fullmatch(seal["key_id"]), "seal.key_id is not 16 hex"),
        (isinstance(seal["signature"], str), "seal.signature is not a string"),
    ]
    if v2:
        size, index, path = seal["tree_size"], seal["leaf_index"], seal["path"]
        checks += [
            (type(size) is int and 1 <= size <= 2**32, "seal.tree_size is not a positive integer"),
            (type(index) is int and 0 <= index < (size if type(size) is int else 0), "seal.leaf_index is off the tree"),
            (isinstance(seal["root"], str) and _HEX64.fullmatch(seal["root"]), "seal.root is not 64 hex"),
            (
                isinstance(path, list)
                and len(path) <= _MAX_PATH
                and all(isinstance(p, str) and _HEX64.fullmatch(p) for p in path),
                "seal.path is not a list of 64-hex hashes",
            ),
        ]
    else:
        checks.append(
            (seal["signed"] == SEAL_FORMAT_V1, f"unknown seal format {seal['signed']!r}; expected {SEAL_FORMAT_V1!r}")
        )
    for passed, problem in checks:
        if not passed:
            raise _Malformed(problem)
    try:
        canonical_json(doc)
    except SealError as e:
        raise _Malformed(str(e)) from e


def _check_fields(obj: dict[str, Any], expected: frozenset[str], what: str) -> None:
    missing, extra = sorted(expected - obj.keys()), sorted(obj.keys() - expected)
    if missing or extra:
        raise _Malformed(f"{what} fields differ: missing {missing or 'none'}, unexpected {extra or 'none'}")


def _decode_signature(text: str) -> bytes:
    """Strict base64: only the canonical encoding of the bytes is accepted (no spare bits, no spaces)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise _Malformed(f"seal.signature is not base64 ({e})") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise _Malformed("seal.signature is not canonical base64")
    return raw
