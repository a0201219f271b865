"""GB/T 2260 administrative region codes: the shipped list and a vectorised membership check.

The list (quality/data/gb2260_hunan.csv) enumerates Hunan down to county level, current and
historical, and names every province. The acceptance rule (see quality/README.md):

- a listed code is accepted: current, historical, and (by default) statistical codes;
- an unlisted code is "unverified" when its nearest listed ancestor does not have its
  children enumerated: any province other than Hunan, and Hunan's historical prefectures
  (the 地区 of the 1980s-90s). Unverified codes are accepted by default;
- anything else (e.g. an unlisted code under a current Hunan prefecture) is unknown.

100000 (national-level bodies) is accepted only inside USCCs.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Literal

import numpy as np
import pyarrow as pa

from quality.codes._arrow import (
    DIGIT,
    INVALID,
    ArrayLike,
    char_matrix,
    from_codes,
    per_chunk,
    valid_mask,
)

__all__ = [
    "REGIONS",
    "RegionInfo",
    "RegionLevel",
    "RegionStatus",
    "Unverified",
    "check_region_codes",
    "region_name",
    "region_statuses",
]

RegionLevel = Literal["national", "province", "prefecture", "county"]
RegionStatus = Literal["current", "historical", "statistical"]
Unverified = Literal["accept", "reject"]

_DATA_FILE = "gb2260_hunan.csv"
_ENUMERATED_PROVINCES = frozenset({"43"})  # provinces whose current prefectures list every county


@dataclass(frozen=True, slots=True)
class RegionInfo:
    """One row of the shipped region list."""

    code: str
    name: str
    level: RegionLevel
    status: RegionStatus
    note: str = ""

    @property
    def unconfirmed(self) -> bool:
        """True when the list marks this entry as believed but not checked against the standard."""
        return "unconfirmed" in self.note


def _load() -> dict[str, RegionInfo]:
    text = resources.files("quality").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    regions: dict[str, RegionInfo] = {}
    for row in csv.DictReader(text.splitlines()):
        info = RegionInfo(row["code"], row["name"], row["level"], row["status"], row["note"] or "")
        if info.code in regions or len(info.code) != 6 or not info.code.isdigit():
            raise ValueError(f"{_DATA_FILE}: duplicate or malformed region code {info.code!r}")
        regions[info.code] = info
    return regions


REGIONS: Mapping[str, RegionInfo] = MappingProxyType(_load())

# status codes in the lookup table; 0 = unknown
_LABELS: tuple[str | None, ...] = (None, "current", "historical", "statistical", "national", "unverified")
_CODE = {label: i for i, label in enumerate(_LABELS) if label}


@functools.cache
def _status_table() -> np.ndarray:
    """uint8 status of every integer 0..999999, built once from REGIONS."""
    table = np.zeros(1_000_000, dtype=np.uint8)
    unv = _CODE["unverified"]
    for code, info in REGIONS.items():
        prov = code[:2]
        if info.level == "province" and prov not in _ENUMERATED_PROVINCES:
            table[int(code) : int(code) + 10_000] = unv
        elif info.level == "prefecture" and info.status == "historical":
            table[int(code) : int(code) + 100] = unv
    for code, info in REGIONS.items():
        table[int(code)] = _CODE["national"] if info.level == "national" else _CODE[info.status]
    return table


@functools.cache
def _accept_table(include_statistical: bool, unverified: Unverified, allow_national: bool) -> np.ndarray:
    """Boolean lookup table over 0..999999 for one combination of options."""
    accepted = [_CODE["current"], _CODE["historical"]]
    if include_statistical:
        accepted.append(_CODE["statistical"])
    if unverified == "accept":
        accepted.append(_CODE["unverified"])
    if allow_national:
        accepted.append(_CODE["national"])
    return np.isin(_status_table(), accepted)


def region_ints(mat: np.ndarray) -> np.ndarray:
    """Integer value of 6-digit byte rows; -1 where any byte is not a digit."""
    digits = DIGIT[mat]
    values = digits.astype(np.int32) @ np.array([100000, 10000, 1000, 100, 10, 1], dtype=np.int32)
    return np.where((digits == INVALID).any(axis=1), -1, values)


def region_accepted(
    values: np.ndarray, *, include_statistical: bool, unverified: Unverified, allow_national: bool = False
) -> np.ndarray:
    """Boolean acceptance of integer region codes (anything outside 0..999999 -> False)."""
    table = _accept_table(include_statistical, unverified, allow_national)
    return table[np.clip(values, 0, 999_999)] & (values >= 0) & (values <= 999_999)


def region_name(code: str) -> str | None:
    """Chinese name of a listed region code, or None when it is not in the shipped list."""
    info = REGIONS.get(code)
    return info.name if info else None


def region_statuses(codes: ArrayLike) -> pa.Array:
    """Per-row status: current, historical, statistical, national, unverified; null when unknown.

    Null input gives null output. Useful for scorecards (share of unverified codes).
    """

    def _one(arr: pa.Array) -> pa.Array:
        mat, mask = char_matrix(arr, 6)
        status = np.zeros(len(arr), dtype=np.uint8)
        values = region_ints(mat)
        status[mask] = np.where(values >= 0, _status_table()[np.clip(values, 0, None)], 0)
        return from_codes(status, _LABELS)

    return per_chunk(_one, codes)


def check_region_codes(
    codes: ArrayLike, *, include_statistical: bool = True, unverified: Unverified = "accept"
) -> pa.BooleanArray:
    """True where a 6-digit code is an accepted GB/T 2260 code (current or historical).

    Args:
        codes: string codes (Array or ChunkedArray); must be exactly 6 ASCII digits.
        include_statistical: accept NBS statistical codes such as 430971 大通湖管理区.
        unverified: "accept" codes under a province (or historical prefecture) whose
            counties are not enumerated in the list; "reject" to demand a listed code.

    Returns:
        BooleanArray, null where the input is null.
    """

    def _one(arr: pa.Array) -> pa.Array:
        mat, mask = char_matrix(arr, 6)
        ok = np.zeros(len(arr), dtype=bool)
        ok[mask] = region_accepted(region_ints(mat), include_statistical=include_statistical, unverified=unverified)
        return pa.array(ok, mask=~valid_mask(arr))

    return per_chunk(_one, codes)
