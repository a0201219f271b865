"""Canonical JSON: the one byte form the hub signs and hashes, reproducible by any approval system.

The rules are those of RFC 8785 (JSON Canonicalization Scheme, "JCS"), restricted to the types an
answer carries, plus three documented extensions for Python values that JSON has no type for.
`canonical_json` writes the bytes with the `rfc8785` library; `canonical_json_inline` writes the same
bytes without it, for the exchange log's throughput.
An approval system that checks a seal reproduces them with any JCS library (Java, Go, JS, .NET,
Python all have one) or with the 40 lines in `exchange/seal_check_reference.py`:

1. Output is UTF-8, with no whitespace between tokens (no BOM, no trailing newline).
2. Objects: keys must be strings; members are sorted by key, comparing keys as sequences of UTF-16
   code units (RFC 8785 3.2.3; identical to code-point order for every character in the BMP, which
   includes all common Chinese characters). Python dicts cannot hold duplicate keys.
3. Strings: non-ASCII characters are written as themselves (``ensure_ascii=False``, so 中文 stays
   中文); only ``"``, ``\\`` and the controls U+0000..U+001F are escaped: ``\\b \\t \\n \\f \\r``
   in short form, the others as ``\\u00xx`` with lowercase hex. Lone surrogates are rejected.
4. Integers (not bools) are written as plain decimal digits. Beyond the IEEE-754 safe range
   ±(2**53 - 1) an integer is accepted only when those digits are exactly what a double prints
   (e.g. ``9007199254740992``, which is what parsing a canonical ``9007199254740992`` gives back);
   any other large integer is rejected because a JSON reader in another language would round it:
   send identifiers such as 统一社会信用代码 or 公民身份号码 as strings.
5. Floats: finite only (NaN and ±Infinity are rejected), written as ECMAScript's
   ``Number.prototype.toString`` writes them (RFC 8785 3.2.2.3): shortest round-trip digits,
   ``1.0`` -> ``1``, ``-0.0`` -> ``0``, ``1e21`` -> ``1e+21``, ``1e-7`` -> ``1e-7``.
6. ``true``, ``false``, ``null`` as usual; lists and tuples are arrays in their order.

Extensions (each produces a JSON *string*, so a document read back by any JSON parser re-renders
to the same bytes):

- ``decimal.Decimal`` -> a string in plain notation that keeps its scale:
  ``Decimal("12.50")`` -> ``"12.50"``, ``Decimal("1E+2")`` -> ``"100"``. Amounts (万元, 元) are
  Decimals in govhub; rendering them as JSON numbers would make a verifier that parses them as
  doubles re-render ``12.50`` as ``12.5`` and break the signature. NaN/Infinity are rejected.
- ``datetime.date`` -> ``"YYYY-MM-DD"``.
- timezone-aware ``datetime.datetime`` -> UTC ISO-8601 with ``Z``:
  ``"2026-05-01T08:00:00Z"`` (``.ffffff`` only when microseconds are non-zero). Naive datetimes
  are rejected: their instant is ambiguous.

Anything else (bytes, sets, custom objects, non-string keys) raises `SealError` naming the path
of the offending value, e.g. ``$.answer.amount``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import rfc8785

from exchange.crypto.errors import SealError

__all__ = ["MAX_SAFE_INTEGER", "canonical_json", "canonical_json_inline"]

MAX_SAFE_INTEGER = 2**53 - 1
_encode_str = json.encoder.encode_basestring  # escapes exactly `"`, `\` and U+0000..U+001F
_SURROGATE = "a string contains a lone surrogate, which has no UTF-8 form"


def canonical_json(obj: Any) -> bytes:
    """Return the canonical UTF-8 JSON bytes of `obj` (rules in this module's docstring), through `rfc8785`.

    Deterministic across runs, processes and platforms; raises `SealError` for values that have no
    canonical form, naming their path (``$.answer.amount``) and what to send instead. The extensions
    become JSON strings first, then the `rfc8785` library writes the bytes (seals, subject hashes).
    It costs about 2x `canonical_json_inline`'s CPU (`bench/bench_canonical.py`, 550-byte sealed answer:
    34.5 µs against 18.0 µs per call, one run at load 6.9): preparing, sealing (SM2, a tree of 100) and
    serialising an answer took 112 µs CPU against 72 µs inline (+40 µs, load 8), beside ~2.4 ms CPU
    per single verification request.
    """
    try:
        return rfc8785.dumps(_json_native(obj, "$"))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as e:  # only strings are left to refuse
        raise SealError("$", _SURROGATE) from e


def canonical_json_inline(obj: Any) -> bytes:
    """The same bytes as `canonical_json`, written here without the library: the exchange log's hashing.

    Kept for the log's throughput (≥ 100,000 events/s to verify), where `rfc8785` is slower; the two
    are checked byte for byte against each other on real seal and log payloads and random JSON.
    """
    parts: list[str] = []
    _write(obj, parts, "$")
    text = "".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise SealError("$", _SURROGATE) from e


def _json_native(value: Any, path: str) -> Any:
    """`value` as `rfc8785` takes it: extensions made strings, mappings dicts, refusals named by path."""
    if value is None or value is True or value is False or isinstance(value, str):
        return value
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return int(value)
        _check_large_int(value, path)
        return float(value)  # a double prints exactly these digits, and `rfc8785` writes it so
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SealError(path, f"float {value} is not finite; NaN and Infinity cannot be sealed")
        return value
    if isinstance(value, Mapping):
        _check_keys(value, path)
        return {key: _json_native(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_native(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return _extension_text(value, path)


def _write(value: Any, out: list[str], path: str) -> None:
    """Append the canonical form of `value` (found at `path`) to `out`."""
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            _check_large_int(value, path)
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_format_float(value, path))
    elif isinstance(value, Mapping):
        _write_object(value, out, path)
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, f"{path}[{i}]")
        out.append("]")
    else:
        out.append(_encode_str(_extension_text(value, path)))


def _write_object(value: Mapping, out: list[str], path: str) -> None:
    """Append an object with members sorted by key as UTF-16 code units (RFC 8785 3.2.3)."""
    _check_keys(value, path)
    out.append("{")
    for i, key in enumerate(sorted(value, key=_utf16_order)):
        if i:
            out.append(",")
        out.append(_encode_str(key))
        out.append(":")
        _write(value[key], out, f"{path}.{key}")
    out.append("}")


def _check_keys(value: Mapping, path: str) -> None:
    for key in value:
        if not isinstance(key, str):
            raise SealError(path, f"object key {key!r} is a {type(key).__name__}; keys must be strings")


def _check_large_int(value: int, path: str) -> None:
    """Refuse an integer beyond ±(2**53-1) unless a double prints exactly its digits (rule 4)."""
    if _double_text(value) != str(int(value)):
        raise SealError(
            path,
            f"integer {value} is outside ±(2**53-1) and would be rounded by other JSON readers; send it as a string",
        )


def _extension_text(value: Any, path: str) -> str:
    """The JSON string an extension type becomes (Decimal, date, aware datetime); anything else is refused."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise SealError(path, f"Decimal {value} is not finite; only finite numbers can be sealed")
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise SealError(path, f"datetime {value.isoformat()} has no timezone; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    raise SealError(
        path,
        f"value of type {type(value).__name__} has no canonical JSON form; "
        "use str, int, float, Decimal, bool, None, date, aware datetime, list or dict",
    )


def _utf16_order(key: str) -> bytes:
    """Sort key comparing strings by UTF-16 code units (big-endian bytes sort the same way)."""
    return key.encode("utf-16-be", "surrogatepass")


def _double_text(value: int) -> str | None:
    """How a JSON reader that parses numbers as doubles would re-render this integer (None: overflow)."""
    try:
        return _format_float(float(value), "$")
    except OverflowError:
        return None


def _format_float(value: float, path: str) -> str:
    """Render a finite float as ECMAScript Number.prototype.toString does (RFC 8785 3.2.2.3)."""
    if not math.isfinite(value):
        raise SealError(path, f"float {value} is not finite; NaN and Infinity cannot be sealed")
    if value == 0:
        return "0"  # also -0.0
    sign = "-" if value < 0 else ""
    # repr() gives the shortest round-trip digits, as ECMAScript does; only the layout differs.
    digits_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits_tuple))
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        body = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + body
