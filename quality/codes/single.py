"""One-value versions of the validators, written independently of the vectorised ones.

For single lookups (a verification request checks one ID) and as the reference the vectorised
functions are tested and benchmarked against. Same rules, same reasons, same options.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

from core.time import beijing_today
from quality.codes._scalar import (
    USCC_ALPHABET,
    id_check_char,
    org_code_check_char,
    uscc_check_char,
)
from quality.codes.id_numbers import MIN_BIRTH_YEAR
from quality.codes.regions import _ENUMERATED_PROVINCES, REGIONS, Unverified
from quality.codes.uscc import AUTHORITY_TYPES, _check_skip

__all__ = ["check_id_number", "check_region_code", "check_uscc", "region_status"]

_DIGITS = frozenset("0123456789")
_ALPHABET = frozenset(USCC_ALPHABET)


def region_status(code: str) -> str | None:
    """current, historical, statistical, national or unverified; None when unknown."""
    info = REGIONS.get(code)
    if info is not None:
        return "national" if info.level == "national" else info.status
    if len(code) != 6 or not set(code) <= _DIGITS:
        return None
    prefecture = REGIONS.get(code[:4] + "00")
    if prefecture is not None and prefecture.level == "prefecture" and prefecture.status == "historical":
        return "unverified"
    province = REGIONS.get(code[:2] + "0000")
    if province is not None and province.level == "province" and code[:2] not in _ENUMERATED_PROVINCES:
        return "unverified"
    return None


def check_region_code(
    code: str,
    *,
    include_statistical: bool = True,
    unverified: Unverified = "accept",
    allow_national: bool = False,
) -> bool:
    """True when one code is accepted under the same rule as `check_region_codes`."""
    status = region_status(code)
    return (
        status in ("current", "historical")
        or (status == "statistical" and include_statistical)
        or (status == "unverified" and unverified == "accept")
        or (status == "national" and allow_national)
    )


def check_id_number(
    value: str,
    *,
    today: dt.date | None = None,
    include_statistical: bool = True,
    unverified: Unverified = "accept",
) -> str | None:
    """Reason one citizen ID is invalid (as `check_id_numbers`), or None when valid."""
    if len(value) != 18 or not set(value[:17]) <= _DIGITS or value[17] not in "0123456789X":
        return "format"
    if not check_region_code(value[:6], include_statistical=include_statistical, unverified=unverified):
        return "region"
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "birth_date"
    if birth.year < MIN_BIRTH_YEAR or birth > (today or beijing_today()):
        return "birth_date"
    if id_check_char(value[:17]) != value[17]:
        return "check_digit"
    return None


def check_uscc(
    value: str,
    *,
    authority_types: Mapping[str, str] | None = None,
    include_statistical: bool = True,
    unverified: Unverified = "accept",
    skip: Collection[str] = (),
) -> str | None:
    """Reason one USCC is invalid (as `check_usccs`, sub-checks in `skip` not applied), or None when valid."""
    _check_skip(skip)
    if len(value) != 18 or not set(value) <= _ALPHABET:
        return "format"
    pairs = AUTHORITY_TYPES if authority_types is None else authority_types
    if "authority_type" not in skip and value[1] not in pairs.get(value[0], ""):
        return "authority_type"
    if "region" not in skip and not check_region_code(
        value[2:8], include_statistical=include_statistical, unverified=unverified, allow_national=True
    ):
        return "region"
    if "org_code" not in skip and org_code_check_char(value[8:16]) != value[16]:
        return "org_code"
    if "check_char" not in skip and uscc_check_char(value[:17]) != value[17]:
        return "check_char"
    return None
