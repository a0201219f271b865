"""Scalar check-character helpers for GB 11643, GB 11714 and GB 32100 (one code at a time).

They are the reference the vectorised validators are tested against, and what the simulators
use to generate valid codes. Bad arguments raise ValueError: they are programming errors.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "ID_WEIGHTS",
    "ORG_WEIGHTS",
    "USCC_ALPHABET",
    "USCC_WEIGHTS",
    "id_check_char",
    "make_id_number",
    "make_uscc",
    "org_code_check_char",
    "uscc_check_char",
]

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2^(17-i) mod 11
_ID_CHECK = "10X98765432"

ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUES = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 symbols: no I O S V Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^i mod 31
_USCC_VALUES = {c: i for i, c in enumerate(USCC_ALPHABET)}


def id_check_char(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits of a citizen ID."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"id_check_char needs exactly 17 ASCII digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def make_id_number(region: str, birth: dt.date, seq: int) -> str:
    """Build a valid 18-character citizen ID: 6-digit region + YYYYMMDD + 3-digit sequence + check."""
    if len(region) != 6 or not region.isascii() or not region.isdigit():
        raise ValueError(f"make_id_number needs a 6-digit region code, got {region!r}")
    if not 0 <= seq <= 999:
        raise ValueError(f"make_id_number needs a sequence in 0..999, got {seq!r}")
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def org_code_check_char(first8: str) -> str:
    """GB 11714 organisation code check character of its first 8 characters (digits, A-Z)."""
    if len(first8) != 8 or any(c not in _ORG_VALUES for c in first8):
        raise ValueError(f"org_code_check_char needs 8 characters from 0-9/A-Z, got {first8!r}")
    total = sum(_ORG_VALUES[c] * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character (mod 31) of the first 17 characters of a USCC."""
    if len(first17) != 17 or any(c not in _USCC_VALUES for c in first17):
        raise ValueError(f"uscc_check_char needs 17 characters from {USCC_ALPHABET}, got {first17!r}")
    total = sum(_USCC_VALUES[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(authority: str, entity_type: str, region: str, org8: str) -> str:
    """Build a valid USCC: authority + type + region + org code (with its GB 11714 check) + check."""
    if len(authority) != 1 or len(entity_type) != 1:
        raise ValueError(f"make_uscc needs 1-character authority and type, got {authority!r}, {entity_type!r}")
    if len(region) != 6 or not region.isascii() or not region.isdigit():
        raise ValueError(f"make_uscc needs a 6-digit region code, got {region!r}")
    org9 = org8 + org_code_check_char(org8)
    first17 = authority + entity_type + region + org9
    return first17 + uscc_check_char(first17)
