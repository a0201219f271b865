"""Sealed answers: the hub signs each verification answer, bound to the question, checkable offline.

A sealed answer (format ``govhub-seal/1``) is one JSON object::

    {
      "answer":       {...},                       # the answer, JSON-native values only
      "item":         "person.status",             # the verification item asked
      "version":      3,                           # dataset version the answer was read from
      "issued_at":    "2026-05-01T08:00:00.123Z",  # UTC, milliseconds
      "request_hash": "<64 hex>",                  # SM3 (sm2) / SHA-256 (ed25519) of canonical_json(request)
      "seal": {
        "algorithm": "sm2" | "ed25519",
        "key_id":    "<16 hex>",                   # names the hub key (see exchange.crypto.keys)
        "signed":    "govhub-seal/1: canonical_json(document without seal.signature)",
        "signature": "<base64 of the signature>"   # SM2: DER (r, s); Ed25519: 64 bytes
      }
    }

What is signed: the canonical JSON (exchange.crypto.canonical) of the whole document with only
``seal.signature`` removed, so the answer, item, version, time, request hash, algorithm and key id
are all covered. Binding the request hash (as X-Road does) stops an answer being replayed for
another question. To check: parse, drop ``seal.signature``, canonicalise, verify with the published
public key; then, if you hold the request you sent, compare its hash. `exchange/seal_check_reference.py`
does exactly this without govhub.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypedDict

from exchange.crypto import (
    Algorithm,
    SealError,
    Signer,
    canonical_json,
    digest_hex,
    inspect_public_key,
    verify_signature,
)

__all__ = [
    "SEAL_FORMAT",
    "SealedAnswer",
    "VerifyResult",
    "request_hash",
    "seal_answer",
    "serialize_sealed",
    "signed_bytes",
    "verify_file",
    "verify_sealed",
]

SEAL_FORMAT = "govhub-seal/1: canonical_json(document without seal.signature)"
_TOP_FIELDS = frozenset({"answer", "item", "version", "issued_at", "request_hash", "seal"})
_SEAL_FIELDS = frozenset({"algorithm", "key_id", "signed", "signature"})
_ISSUED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX16 = re.compile(r"[0-9a-f]{16}")

Reason = Literal["signature", "key_id", "request_hash", "malformed"]


class Seal(TypedDict):
    """The ``seal`` member of a sealed answer."""

    algorithm: Algorithm
    key_id: str
    signed: str
    signature: str


class SealedAnswer(TypedDict):
    """A sealed answer document (field meanings in the module docstring)."""

    answer: dict[str, Any]
    item: str
    version: int
    issued_at: str
    request_hash: str
    seal: Seal


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking a sealed answer: `reason` says which check failed, `message` says it in words."""

    ok: bool
    reason: Reason | None
    message: str
    document: dict[str, Any] | None = None


def request_hash(request: Mapping[str, Any], *, algorithm: Algorithm = "sm2") -> str:
    """Hex digest of canonical_json(request): SM3 for sm2 seals, SHA-256 for ed25519 seals."""
    if not isinstance(request, Mapping):
        raise SealError("request", f"must be a JSON object (mapping), got {type(request).__name__}")
    return digest_hex(canonical_json(request), algorithm=algorithm)


def seal_answer(
    signer: Signer,
    *,
    request: Mapping[str, Any],
    answer: Mapping[str, Any],
    item: str,
    version: int,
    issued_at: datetime | None = None,
) -> SealedAnswer:
    """Seal `answer` to `request` with the hub key and return the sealed document (a plain dict).

    The answer is normalised to JSON-native values first (Decimal -> string, date -> ISO string, see
    `canonical_json`), so however the caller later serialises the document, its content is exactly
    what was signed. `issued_at` defaults to now; a naive datetime is refused.
    """
    if not isinstance(item, str) or not item:
        raise SealError("item", f"must be a non-empty string, got {item!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise SealError("version", f"must be a non-negative integer dataset version, got {version!r}")
    if not isinstance(answer, Mapping):
        raise SealError("answer", f"must be a JSON object (mapping), got {type(answer).__name__}")
    document: dict[str, Any] = {
        "answer": json.loads(canonical_json(answer)),
        "item": item,
        "version": version,
        "issued_at": _format_issued_at(issued_at),
        "request_hash": request_hash(request, algorithm=signer.algorithm),
        "seal": {"algorithm": signer.algorithm, "key_id": signer.key_id, "signed": SEAL_FORMAT},
    }
    signature = signer.sign(signed_bytes(document))
    document["seal"]["signature"] = base64.b64encode(signature).decode("ascii")
    return document  # type: ignore[return-value]


def signed_bytes(document: Mapping[str, Any]) -> bytes:
    """The exact bytes a seal's signature covers: canonical JSON of the document minus seal.signature."""
    seal = {k: v for k, v in document["seal"].items() if k != "signature"}
    return canonical_json({**document, "seal": seal})


def serialize_sealed(document: Mapping[str, Any]) -> bytes:
    """The document as canonical UTF-8 JSON, the recommended form to store or send (any JSON works)."""
    return canonical_json(document)


def verify_sealed(
    document: Mapping[str, Any] | bytes | str,
    *,
    public_key_pem: str,
    request: Mapping[str, Any] | None = None,
) -> VerifyResult:
    """Check a sealed answer offline with the hub's public key; also its request binding if given.

    Checks, in order: well-formed (``malformed``), sealed by this public key (``key_id``), the
    signature over the content (``signature``), and the request hash (``request_hash``). Any changed
    character of the content fails. Raises `SealError` only when `public_key_pem` is not a key.
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
        expected = request_hash(request, algorithm=key.algorithm)
        if expected != doc["request_hash"]:
            return VerifyResult(
                False,
                "request_hash",
                f"the answer was sealed for a different request: its request hash is "
                f"{doc['request_hash']}, the request given hashes to {expected}",
                doc,
            )
    return VerifyResult(
        True,
        None,
        f"valid seal: item {doc['item']} version {doc['version']}, issued {doc['issued_at']} "
        f"by {key.algorithm} key {key.key_id}" + ("" if request is None else ", for the request given"),
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


def _format_issued_at(issued_at: datetime | None) -> str:
    """UTC ISO-8601 with milliseconds and Z; refuses naive datetimes."""
    if issued_at is None:
        issued_at = datetime.now(UTC)
    elif issued_at.tzinfo is None or issued_at.utcoffset() is None:
        raise SealError("issued_at", f"{issued_at.isoformat()} has no timezone; pass an aware datetime")
    return issued_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


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
    _check_fields(doc, _TOP_FIELDS, "document")
    seal = doc["seal"]
    if not isinstance(seal, dict):
        raise _Malformed("seal is not an object")
    _check_fields(seal, _SEAL_FIELDS, "seal")
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
        (seal["signed"] == SEAL_FORMAT, f"unknown seal format {seal['signed']!r}; expected {SEAL_FORMAT!r}"),
        (isinstance(seal["signature"], str), "seal.signature is not a string"),
    ]
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
