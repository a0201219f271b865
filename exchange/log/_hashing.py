"""The exact bytes each event hash and checkpoint signature covers (documented in exchange/README.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from exchange.crypto import sm3_hex as crypto_sm3_hex
from exchange.crypto.canonical import MAX_SAFE_INTEGER, canonical_json_inline

__all__ = [
    "HASHED_FIELDS",
    "as_utc",
    "canonical",
    "canonical_value",
    "checkpoint_payload",
    "event_hash",
    "fmt_time",
    "sm3_hex",
]

HASHED_FIELDS: tuple[str, ...] = (
    "seq",
    "event_id",
    "type",
    "recorded_at",
    "started_at",
    "finished_at",
    "source",
    "target",
    "resource",
    "version",
    "rows",
    "bytes",
    "checksum",
    "duration_ms",
    "outcome",
    "error_code",
    "run_id",
    "request_id",
    "case_number",
    "purpose",
    "subject_hash",
    "client",
    "department",
    "details",
    "prev_hash",
)
"""Every column of `exchange_event` except `hash`, in the hashed object as `{"v": 1, field: value}`."""

_TIMES = frozenset({"recorded_at", "started_at", "finished_at"})


def canonical(obj: Any) -> bytes:
    """The hub's canonical JSON (RFC 8785 / JCS rules), the same bytes as `exchange.crypto.canonical_json`.

    Written by `canonical_json_inline`, not the `rfc8785` library the seals use: on a 751-byte event
    payload the library took 46.4 µs CPU per call against 23.5 µs (1.97x; 21,500 events/s, far under
    the 100,000 events/s the log verifier must reach), `bench/bench_canonical.py` at load 6.9.
    """
    return canonical_json_inline(obj)


def _plain(value: Any) -> bool:
    """True when json.dumps renders `value` exactly as JCS does: no floats, no unsafe integers."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, dict):
        return all(isinstance(k, str) and _bmp(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


def _bmp(key: str) -> bool:
    return key.isascii() or max(key) < "\U00010000"  # astral keys sort differently in UTF-16 (JCS)


def _canonical_event(payload: dict[str, Any]) -> bytes:
    """JCS bytes of an event payload; the C json encoder when it gives the same bytes (3x faster).

    Top-level values are strings, safe integers or null by construction (checked on append; a
    tampered row that breaks this only renders differently, so its hash still mismatches), so
    only `details` needs the scan.
    """
    details = payload.get("details")
    if details is None or _plain(details):  # sort_keys = JCS order for BMP keys, same escapes
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return canonical_json_inline(payload)


def canonical_value(value: Any) -> bytes:
    """JCS bytes of one JSON value (an event's details): the C json encoder when it gives the same bytes."""
    if _plain(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return canonical_json_inline(value)


def _sm3_openssl(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


sm3_hex = _sm3_openssl if "sm3" in hashlib.algorithms_available else crypto_sm3_hex
"""SM3 hex digest: hashlib's OpenSSL directly (cheaper per call), else `exchange.crypto.sm3_hex`."""


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; naive values (SQLite drops the zone) are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fmt_time(value: datetime | None) -> str | None:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, the only time format that enters a hash."""
    return None if value is None else as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hashed_value(field: str, value: Any) -> Any:
    if field in _TIMES:
        return fmt_time(value)
    if field == "duration_ms" and value is not None:
        return f"{value:.3f}"  # a string: float text differs between languages, this does not
    return value


def event_hash(values: Mapping[str, Any]) -> str:
    """SM3 hex of canonical JSON of `{"v": 1, <HASHED_FIELDS>}` taken from a row or a dict."""
    payload = {field: _hashed_value(field, values[field]) for field in HASHED_FIELDS}
    payload["v"] = 1
    return sm3_hex(_canonical_event(payload))


def checkpoint_payload(*, seq: int, head_hash: str, signed_at: datetime, key_id: str, algorithm: str) -> bytes:
    """The bytes a checkpoint signature covers."""
    return canonical(
        {
            "log": "govhub.exchange_log",
            "seq": seq,
            "head_hash": head_hash,
            "signed_at": fmt_time(signed_at),
            "key_id": key_id,
            "algorithm": algorithm,
        }
    )
