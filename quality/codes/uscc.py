"""Vectorised GB 32100 Unified Social Credit Code checks (with the embedded GB 11714 org code).

Rules: 18 characters from the 31-symbol alphabet (upper-case only; clean with
`normalize_codes` first where allowed), a known authority/entity-type pair, a known region
(including 100000 for national bodies), the GB 11714 check of characters 9-17 and the mod-31
check character. Each invalid row gets one reason, the first failing of USCC_REASONS; since
"check_char" comes last, a contract can downgrade exactly that reason to a warning (codes of
early pilot regions such as 91350100M0001TGQXM legally fail it).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pyarrow as pa

from quality.codes._arrow import (
    INVALID,
    ArrayLike,
    char_matrix,
    from_codes,
    per_chunk,
    valid_from_reasons,
    valid_mask,
)
from quality.codes._scalar import ORG_WEIGHTS, USCC_ALPHABET, USCC_WEIGHTS
from quality.codes.regions import Unverified, region_accepted

__all__ = ["AUTHORITY_TYPES", "USCC_REASONS", "check_usccs", "valid_usccs"]

USCC_REASONS = ("format", "authority_type", "region", "org_code", "check_char")

# registration authority -> entity types it issues (STANDARDS.md; GB 32100 table 1, partial)
AUTHORITY_TYPES: Mapping[str, str] = MappingProxyType({"1": "1239", "5": "1239", "9": "123", "N": "1239", "Y": "1"})

_ALPHA = np.full(256, INVALID, dtype=np.uint8)
_ALPHA[np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)] = np.arange(31, dtype=np.uint8)
_ORG = np.full(256, INVALID, dtype=np.uint8)
_ORG[np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = np.arange(36, dtype=np.uint8)
_ORG_CHECK = np.frombuffer(b"?123456789X0", dtype=np.uint8)  # indexed by 11 - sum % 11 (1..11)


@functools.cache
def _pair_table(pairs: frozenset[tuple[str, str]]) -> np.ndarray:
    """256x256 boolean table of allowed (authority byte, type byte) pairs."""
    table = np.zeros((256, 256), dtype=bool)
    for authority, entity_type in pairs:
        table[ord(authority), ord(entity_type)] = True
    return table


def check_usccs(
    codes: ArrayLike,
    *,
    authority_types: Mapping[str, str] | None = None,
    include_statistical: bool = True,
    unverified: Unverified = "accept",
) -> pa.Array:
    """One reason per invalid USCC, null where valid (or where the input is null).

    Args:
        codes: string codes (Array or ChunkedArray).
        authority_types: authority character -> string of allowed entity-type characters;
            default AUTHORITY_TYPES.
        include_statistical, unverified: region acceptance options, as in `check_region_codes`.

    Returns:
        string Array of "format", "authority_type", "region", "org_code" or "check_char".
    """
    mapping = AUTHORITY_TYPES if authority_types is None else authority_types
    pairs = _pair_table(frozenset((a, t) for a, types in mapping.items() for t in types))

    def _one(arr: pa.Array) -> pa.Array:
        mat, mask = char_matrix(arr, 18)
        raw = np.ascontiguousarray(mat.T)  # (18, m): one contiguous row per position
        values = np.take(_ALPHA, raw)
        format_ok = values.max(axis=0, initial=0) != INVALID
        pair_ok = pairs[raw[0], raw[1]]

        digits = raw[2:8] - np.uint8(ord("0"))
        region = digits[0].astype(np.int32)
        for j in range(1, 6):
            region = region * 10 + digits[j]
        region = np.where(digits.max(axis=0, initial=0) < 10, region, -1)
        region_ok = region_accepted(
            region, include_statistical=include_statistical, unverified=unverified, allow_national=True
        )

        org_total = np.zeros(raw.shape[1], dtype=np.int32)
        for j, w in enumerate(ORG_WEIGHTS):
            org_total += np.take(_ORG, raw[8 + j]).astype(np.int32) * w
        org_ok = _ORG_CHECK[11 - org_total % 11] == raw[16]

        total = np.zeros(raw.shape[1], dtype=np.int32)
        for j, w in enumerate(USCC_WEIGHTS):
            total += values[j].astype(np.int32) * w
        check_ok = (31 - total % 31) % 31 == values[17]

        code = np.zeros(raw.shape[1], dtype=np.int8)
        code[~check_ok] = 5
        code[~org_ok] = 4
        code[~region_ok] = 3
        code[~pair_ok] = 2
        code[~format_ok] = 1
        full = np.ones(len(arr), dtype=np.int8)  # wrong length -> format
        full[mask] = code
        return from_codes(full, (None, *USCC_REASONS), nulls=~valid_mask(arr))

    return per_chunk(_one, codes)


def valid_usccs(
    codes: ArrayLike,
    *,
    authority_types: Mapping[str, str] | None = None,
    include_statistical: bool = True,
    unverified: Unverified = "accept",
) -> pa.BooleanArray:
    """True where a USCC passes every check of `check_usccs`; null where the input is null."""
    reasons = check_usccs(
        codes,
        authority_types=authority_types,
        include_statistical=include_statistical,
        unverified=unverified,
    )
    return valid_from_reasons(reasons, codes)
