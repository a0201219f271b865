"""Vectorised GB 11643 citizen ID checks: format, address code, birth date, check character.

Rules: exactly 18 characters, 17 ASCII digits then a digit or upper-case `X` (a lowercase `x`
or surrounding whitespace is a "format" failure; clean with `normalize_codes` first where the
contract allows it). Each invalid row gets one reason, the first failing of ID_REASONS.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from core.time import beijing_today
from quality.codes._arrow import (
    ArrayLike,
    char_matrix,
    from_codes,
    per_chunk,
    valid_from_reasons,
    valid_mask,
)
from quality.codes._scalar import ID_WEIGHTS
from quality.codes.regions import Unverified, region_accepted

__all__ = [
    "ID_REASONS",
    "MIN_BIRTH_YEAR",
    "check_id_numbers",
    "id_birth_dates",
    "id_genders",
    "valid_id_numbers",
]

ID_REASONS = ("format", "region", "birth_date", "check_digit")
MIN_BIRTH_YEAR = 1880

_X = ord("X") - ord("0")  # value of "X" after subtracting "0" (non-digits land outside 0..9)
_CHECK_VALUES = np.frombuffer(b"10X98765432", dtype=np.uint8) - np.uint8(ord("0"))
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0, 0, 0], dtype=np.int32)


class _Parsed:
    """Fields of the 18-character rows of one chunk (numpy arrays over the `mask` rows).

    The byte matrix is transposed once so that every step below is a contiguous column
    operation over all rows (a loop over 18 positions, never over rows).
    """

    def __init__(self, arr: pa.Array) -> None:
        mat, self.mask = char_matrix(arr, 18)
        self.cols = np.ascontiguousarray((mat - np.uint8(ord("0"))).T)  # (18, m) uint8
        self.last = self.cols[17]
        self.format_ok = (self.cols[:17].max(axis=0, initial=0) < 10) & ((self.last < 10) | (self.last == _X))

    def number(self, start: int, width: int) -> np.ndarray:
        """Integer value of digits [start, start+width) on every parsed row."""
        out = self.cols[start].astype(np.int32)
        for j in range(start + 1, start + width):
            out *= 10
            out += self.cols[j]
        return out

    def dates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(year, month, day, is_real_calendar_date) of the birth-date digits."""
        year, month, day = self.number(6, 4), self.number(10, 2), self.number(12, 2)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        dim = _DAYS_IN_MONTH[np.clip(month, 0, 15)] + ((month == 2) & leap)
        real = self.format_ok & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= dim)
        return year, month, day, real

    def check_ok(self) -> np.ndarray:
        total = np.zeros(self.cols.shape[1], dtype=np.int32)
        for j, w in enumerate(ID_WEIGHTS):
            total += self.cols[j].astype(np.int32) * w
        return _CHECK_VALUES[total % 11] == self.last


def check_id_numbers(
    ids: ArrayLike,
    *,
    today: dt.date | None = None,
    include_statistical: bool = True,
    unverified: Unverified = "accept",
) -> pa.Array:
    """One reason per invalid citizen ID, null where valid (or where the input is null).

    Args:
        ids: string IDs (Array or ChunkedArray).
        today: birth dates after this day are rejected (default: today in Beijing time).
        include_statistical, unverified: region acceptance options, as in `check_region_codes`.

    Returns:
        string Array of "format", "region", "birth_date" (not a real date, in the future or
        before 1880) or "check_digit", in that priority order.
    """
    limit = today or beijing_today()
    limit_int = limit.year * 10000 + limit.month * 100 + limit.day

    def _one(arr: pa.Array) -> pa.Array:
        p = _Parsed(arr)
        year, month, day, real = p.dates()
        ymd = year * 10000 + month * 100 + day
        code = np.zeros(len(p.last), dtype=np.int8)
        code[~p.check_ok()] = 4
        code[~(real & (year >= MIN_BIRTH_YEAR) & (ymd <= limit_int))] = 3
        region_ok = region_accepted(p.number(0, 6), include_statistical=include_statistical, unverified=unverified)
        code[~region_ok] = 2
        code[~p.format_ok] = 1
        full = np.ones(len(arr), dtype=np.int8)  # wrong length -> format
        full[p.mask] = code
        return from_codes(full, (None, *ID_REASONS), nulls=~valid_mask(arr))

    return per_chunk(_one, ids)


def valid_id_numbers(
    ids: ArrayLike,
    *,
    today: dt.date | None = None,
    include_statistical: bool = True,
    unverified: Unverified = "accept",
) -> pa.BooleanArray:
    """True where a citizen ID passes every check of `check_id_numbers`; null where the input is null."""
    reasons = check_id_numbers(ids, today=today, include_statistical=include_statistical, unverified=unverified)
    return valid_from_reasons(reasons, ids)


def id_birth_dates(ids: ArrayLike) -> pa.Array:
    """Birth date (date32) encoded in each well-formed ID; null where not a real calendar date."""

    def _one(arr: pa.Array) -> pa.Array:
        p = _Parsed(arr)
        year, month, day, real = p.dates()
        days = np.zeros(len(arr), dtype=np.int32)
        ok = np.zeros(len(arr), dtype=bool)
        days[p.mask] = _days_since_epoch(year, month, day)
        ok[p.mask] = real
        return pa.array(days, type=pa.int32(), mask=~ok).view(pa.date32())

    return per_chunk(_one, ids)


def id_genders(ids: ArrayLike) -> pa.Array:
    """GB/T 2261.1 gender from the sequence digit: "1" male (odd), "2" female (even); null if malformed."""

    def _one(arr: pa.Array) -> pa.Array:
        p = _Parsed(arr)
        code = np.zeros(len(arr), dtype=np.int8)
        code[p.mask] = np.where(p.format_ok, 2 - (p.cols[16] % 2), 0)
        return from_codes(code, (None, "1", "2"))

    return per_chunk(_one, ids)


def _days_since_epoch(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's days_from_civil)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
