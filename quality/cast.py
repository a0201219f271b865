"""Cast source columns to the contract's Arrow types, one null per value that does not parse.

Sources give strings (CSV), DB-native values (SQL) or JSON types (HTTP). Every field is cast
with vectorised operations; a value that was present but could not be cast becomes null and
is reported as a `type` failure. Conventions:

- blank strings (empty or whitespace only) mean "missing" for every type; string values are
  otherwise kept exactly as received (not trimmed);
- dates are 'YYYY-MM-DD' (or date/timestamp values); '2023-02-30' is a failure, not March 2nd
  (Arrow's strptime would silently roll it over, so dates are parsed with numpy instead);
- timestamps are 'YYYY-MM-DD HH:MM:SS' or ISO 8601 with 'T', fractional seconds and an offset;
  naive values are Asia/Shanghai local time and are stored as UTC (`timestamp[us, UTC]`);
- decimals must fit the contract's precision and scale exactly (no silent rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.time import BEIJING_TZ_NAME
from schemas import Field, arrow_type

__all__ = ["LOCAL_TZ", "CastResult", "blank_mask", "cast_field"]

LOCAL_TZ = BEIJING_TZ_NAME
_UTC_US = pa.timestamp("us", tz="UTC")
# China has kept UTC+8 without daylight saving since 1991-09-15; earlier naive values go through
# the tz database (DST 1986-1991, local mean time before 1901).
_FIXED_OFFSET_SINCE = np.datetime64("1991-09-16T00:00:00", "s")
_EIGHT_HOURS = np.timedelta64(8 * 3600, "s")
_TS_PATTERN = (
    r"^(?P<core>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[list(b" \t\r\n\x0b\x0c")] = True
_TRUE = ["true", "t", "1", "y", "yes", "是"]
_FALSE = ["false", "f", "0", "n", "no", "否"]


@dataclass(frozen=True)
class CastResult:
    """A field cast to its Arrow type: `failed` marks values present but not castable."""

    values: pa.Array
    failed: pa.BooleanArray
    failures: int


def cast_field(arr: pa.Array | pa.ChunkedArray, field: Field) -> CastResult:
    """Cast one source column to the field's Arrow type; failures become null and are flagged."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    target = arrow_type(field)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string_view(arr.type) or pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if pa.types.is_null(arr.type):
        arr = arr.cast(pa.string())
    if pa.types.is_string(arr.type):
        blank = blank_mask(arr)
        if blank is not None:
            arr = pc.if_else(blank, pa.scalar(None, pa.string()), arr)
        values = _from_string(arr, field, target)
    else:
        values = _from_native(arr, field, target)
    failed = pc.and_(arr.is_valid(), values.is_null())
    failures = pc.sum(failed).as_py() or 0
    return CastResult(values=values, failed=failed, failures=failures)


def blank_mask(arr: pa.Array) -> pa.BooleanArray | None:
    """Rows holding an empty or whitespace-only string, or None when there are none (cheap path)."""
    offsets, data = _buffers(arr)
    starts, lengths = offsets[:-1], np.diff(offsets)
    valid = _valid(arr)
    empty = (lengths == 0) & valid
    first = np.zeros(len(arr), dtype=bool)
    has = (lengths > 0) & valid
    if len(data):
        first[has] = _WHITESPACE[data[starts[has]]]
    if not first.any():
        return pa.array(empty) if empty.any() else None
    candidates = np.flatnonzero(first)
    trimmed = pc.utf8_trim_whitespace(arr.take(pa.array(candidates)))
    empty[candidates[pc.equal(trimmed, "").to_numpy(zero_copy_only=False)]] = True
    return pa.array(empty) if empty.any() else None


def _from_string(arr: pa.Array, field: Field, target: pa.DataType) -> pa.Array:
    kind = field.type
    if kind == "string":
        return arr
    if kind == "date":
        return parse_dates(arr)
    if kind == "timestamp":
        return parse_timestamps(arr)
    if kind == "boolean":
        low = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
        truthy = pc.is_in(low, value_set=pa.array(_TRUE))
        known = pc.or_(truthy, pc.is_in(low, value_set=pa.array(_FALSE)))
        return pc.if_else(known, truthy, pa.scalar(None, pa.bool_()))
    trimmed = pc.utf8_trim_whitespace(arr)
    try:  # fast path: every value is a clean number that fits
        return pc.cast(trimmed, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if kind == "integer":
        regex = r"^[+-]?\d{1,18}$"
    elif kind == "float":
        regex = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$"
    else:
        whole, scale = field.precision - field.scale, field.scale
        regex = rf"^[+-]?\d{{1,{max(whole, 1)}}}" + (rf"(\.\d{{1,{scale}}})?$" if scale else r"(\.0*)?$")
    ok = pc.match_substring_regex(trimmed, regex)
    return pc.cast(pc.if_else(ok, trimmed, pa.scalar(None, pa.string())), target)


def _from_native(arr: pa.Array, field: Field, target: pa.DataType) -> pa.Array:
    kind = field.type
    if kind == "timestamp" and pa.types.is_timestamp(arr.type):
        return _timestamps_to_utc(arr)
    if kind == "timestamp" and pa.types.is_date(arr.type):
        return _timestamps_to_utc(arr.cast(pa.timestamp("s")))
    if kind == "date" and pa.types.is_timestamp(arr.type):
        if arr.type.tz is not None:
            arr = pc.local_timestamp(pc.cast(arr, pa.timestamp(arr.type.unit, tz=LOCAL_TZ)))
        return pc.cast(pc.floor_temporal(arr, unit="day"), pa.date32())
    if kind == "decimal" and (pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type)):
        limit = pa.scalar(10.0 ** (field.precision - field.scale))
        fits = pc.less(pc.abs(arr.cast(pa.float64())), limit)
        if pa.types.is_floating(arr.type):
            fits = pc.and_(fits, pc.is_finite(arr))
        values = pc.cast(pc.if_else(fits, arr, pa.scalar(None, arr.type)), target, safe=False)
        if pa.types.is_floating(arr.type):  # reject values that would be rounded to the scale
            exact = pc.equal(values.cast(pa.float64()), arr.cast(pa.float64()))
            values = pc.if_else(exact, values, pa.scalar(None, target))
        return values
    try:
        return pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        if kind == "string":
            raise
    text = pc.cast(arr, pa.string())
    return _from_string(text, field, target)


def _arrow_cast(arr: pa.Array, target: pa.DataType, width: int, *, with_fraction: bool = False) -> pa.Array | None:
    """Arrow's own parse when every value has the plain form (`width` characters, plus up to six
    fraction digits when `with_fraction`) and parses: the usual case, 3-5x faster than the numpy
    parser. None sends the column to the numpy parser, which also says which values failed.
    Arrow validates the calendar and the clock as the numpy parser does; its extra liberties
    (year 0, 'HH:MM' without seconds, zone offsets) are excluded by the shape and year checks."""
    if not len(arr) or arr.null_count == len(arr):
        return None
    offsets, data = _buffers(arr)
    widths = np.diff(offsets)[_valid(arr)]
    if with_fraction and widths.max() > width:  # '.f' to '.ffffff' after the seconds, nothing else
        longer = np.flatnonzero(np.diff(offsets) > width)
        if widths.max() > width + 7 or (data[offsets[longer] + width] != ord(".")).any():
            return None
        widths = widths[widths != width]
        if (widths < width + 2).any():
            return None
    elif not (widths == width).all():
        return None
    try:
        parsed = pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    low = pc.min(parsed.view(pa.int32() if target == pa.date32() else pa.int64())).as_py()
    floor = _YEAR_ONE_DAYS if target == pa.date32() else _YEAR_ONE_DAYS * 86_400_000_000
    return parsed if low >= floor else None


_YEAR_ONE_DAYS = -719_162  # 0001-01-01 in days since 1970-01-01


def parse_dates(arr: pa.Array) -> pa.Array:
    """'YYYY-MM-DD' strings to date32 with calendar validation; anything else becomes null."""
    fast = _arrow_cast(arr, pa.date32(), 10)
    if fast is not None:
        return fast
    days, ok = _parse_fixed(arr, with_time=False)
    return pa.array(days.astype("datetime64[D]"), type=pa.date32(), mask=~ok)


def parse_timestamps(arr: pa.Array) -> pa.Array:
    """Timestamp strings to UTC microseconds; naive values are Asia/Shanghai local time."""
    fast = _arrow_cast(arr, pa.timestamp("us"), 19, with_fraction=True)
    if fast is not None:  # every value 'YYYY-MM-DD[T ]HH:MM:SS[.ffffff]', naive local time
        return _timestamps_to_utc(fast)
    seconds, ok = _parse_fixed(arr, with_time=True, prefix=True)
    micros = seconds.astype("datetime64[us]")
    offset_min = np.full(len(arr), np.iinfo(np.int32).min, dtype=np.int64)  # sentinel: naive
    offsets, data = _buffers(arr)
    lengths = np.diff(offsets)
    plain = lengths == 19
    # the common longer form, naive with a fraction ('....SS.ffffff'), without regular expressions
    frac_rows = np.flatnonzero(ok & (lengths >= 21) & (lengths <= 28))
    if len(frac_rows):
        starts, tail = offsets[frac_rows], lengths[frac_rows] - 20
        good = data[starts + 19] == ord(".")
        frac_us = np.zeros(len(frac_rows), dtype=np.int64)
        for j in range(1, 10):
            has = j <= tail
            digit = data[np.where(has, starts + 19 + j, 0)] - np.uint8(48)
            good &= ~has | (digit < 10)
            if j <= 6:
                frac_us = frac_us * 10 + np.where(has, digit, 0)
        micros[frac_rows[good]] += frac_us[good].astype("timedelta64[us]")
        plain[frac_rows[good]] = True
    ok &= plain
    odd = np.flatnonzero(_valid(arr) & ~plain)
    if len(odd):  # fractional seconds and/or an explicit offset: parse that subset
        parts = pc.extract_regex(arr.take(pa.array(odd)), _TS_PATTERN)
        core_s, core_ok = _parse_fixed(parts.field("core").fill_null("x"), with_time=True)
        frac = pc.utf8_slice_codeunits(pc.utf8_rpad(parts.field("frac").fill_null(""), 6, "0"), 0, 6)
        frac_us = pc.cast(frac, pa.int64()).to_numpy().astype("timedelta64[us]")
        sub_ok = core_ok & parts.is_valid().to_numpy(zero_copy_only=False)
        micros[odd] = core_s.astype("datetime64[us]") + frac_us
        ok[odd] = sub_ok
        tz = parts.field("tz").fill_null("").to_numpy(zero_copy_only=False)
        offset_min[odd] = [_offset_minutes(t) for t in tz] if len(odd) < 1000 else _offsets_vec(tz)
    naive = offset_min == np.iinfo(np.int32).min
    utc = micros.copy()
    fixed = naive & (micros >= _FIXED_OFFSET_SINCE)
    utc[fixed] = micros[fixed] - _EIGHT_HOURS
    old = np.flatnonzero(naive & ~fixed & ok)
    if len(old):
        local = pa.array(micros[old], type=pa.timestamp("us"))
        zoned = pc.assume_timezone(local, LOCAL_TZ, ambiguous="earliest", nonexistent="earliest")
        utc[old] = zoned.cast(pa.int64()).to_numpy().astype("datetime64[us]")
    explicit = ~naive
    utc[explicit] = micros[explicit] - offset_min[explicit].astype("timedelta64[m]")
    return pa.array(utc.astype(np.int64), type=_UTC_US, mask=~ok)


def _offset_minutes(text: str) -> int:
    if text in ("", None):
        return np.iinfo(np.int32).min
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4]))


def _offsets_vec(tz: np.ndarray) -> np.ndarray:
    """Vectorised `_offset_minutes` for many rows with explicit offsets."""
    arr = pa.array(tz, type=pa.string())
    out = np.full(len(tz), np.iinfo(np.int32).min, dtype=np.int64)
    zulu = pc.equal(arr, "Z").to_numpy(zero_copy_only=False)
    out[zulu] = 0
    signed = pc.greater(pc.utf8_length(arr), 1).to_numpy(zero_copy_only=False)
    digits = pc.replace_substring(pc.utf8_slice_codeunits(arr, 1), ":", "")
    hours = pc.cast(pc.utf8_slice_codeunits(digits, 0, 2).filter(pa.array(signed)), pa.int64()).to_numpy()
    mins = pc.cast(pc.utf8_slice_codeunits(digits, 2, 4).filter(pa.array(signed)), pa.int64()).to_numpy()
    sign = np.where(pc.starts_with(arr, "-").filter(pa.array(signed)).to_numpy(zero_copy_only=False), -1, 1)
    out[signed] = sign * (hours * 60 + mins)
    return out


def _timestamps_to_utc(arr: pa.Array) -> pa.Array:
    if arr.type.tz is not None:
        return pc.cast(arr, _UTC_US)
    local = pc.cast(arr, pa.timestamp("us")).cast(pa.int64()).to_numpy(zero_copy_only=False)
    local = np.nan_to_num(local, nan=0).astype(np.int64).astype("datetime64[us]")
    utc = local - _EIGHT_HOURS
    old = np.flatnonzero(_valid(arr) & (local < _FIXED_OFFSET_SINCE))
    if len(old):  # before 1991-09-16: DST years and local mean time, from the tz database
        zoned = pc.assume_timezone(
            pa.array(local[old], type=pa.timestamp("us")), LOCAL_TZ, ambiguous="earliest", nonexistent="earliest"
        )
        utc[old] = zoned.cast(pa.int64()).to_numpy().astype("datetime64[us]")
    return pa.array(utc.astype(np.int64), type=_UTC_US, mask=~_valid(arr))


def _parse_fixed(arr: pa.Array, *, with_time: bool, prefix: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Parse 'YYYY-MM-DD' (or 'YYYY-MM-DD[T ]HH:MM:SS') with numpy over the raw UTF-8 bytes.

    Returns (datetime64[s] values, ok mask); rows of any other length or shape are not ok
    (with `prefix`, longer rows are parsed from their first characters).
    Works position by position (one gather per character), never row by row.
    """
    width = 19 if with_time else 10
    offsets, data = _buffers(arr)
    n = len(arr)
    lengths = np.diff(offsets)
    ok = _valid(arr) & ((lengths >= width) if prefix else (lengths == width))
    if len(data) == 0 or not ok.any():
        return np.zeros(n, dtype="datetime64[s]"), np.zeros(n, dtype=bool)
    starts = np.where(ok, offsets[:-1], 0)
    if len(data) < width:
        data = np.concatenate([data, np.zeros(width, np.uint8)])

    if ok.all() and offsets[-1] - offsets[0] == n * width:  # fixed width: view the buffer as a matrix
        matrix = data[offsets[0] : offsets[-1]].reshape(n, width)

        def char(j: int) -> np.ndarray:
            return matrix[:, j]
    else:

        def char(j: int) -> np.ndarray:
            return data[starts + j]

    def num(*positions: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int32)
        for j in positions:
            d = char(j) - np.uint8(48)  # non-digits wrap around to values above 9
            np.logical_and(ok, d < 10, out=ok)
            out *= 10
            out += d
        return out

    year, month, day = num(0, 1, 2, 3), num(5, 6), num(8, 9)
    ok &= (char(4) == ord("-")) & (char(7) == ord("-"))
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (year >= 1)
    ym = ((year.astype(np.int64) - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    first = ym.astype("datetime64[D]")
    ok &= day <= ((ym + 1).astype("datetime64[D]") - first).astype(np.int64)
    seconds = (first - np.datetime64("1970-01-01", "D")).astype(np.int64) * 86400 + (np.clip(day, 1, 31) - 1) * 86400
    if with_time:
        sep = char(10)
        ok &= ((sep == ord(" ")) | (sep == ord("T"))) & (char(13) == ord(":")) & (char(16) == ord(":"))
        hh, mi, ss = num(11, 12), num(14, 15), num(17, 18)
        ok &= (hh < 24) & (mi < 60) & (ss < 60)
        seconds = seconds + hh.astype(np.int64) * 3600 + mi * 60 + ss
    return seconds.astype("datetime64[s]"), ok


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of a string array as numpy views, honouring the array's slice offset."""
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def _valid(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    return arr.is_valid().to_numpy(zero_copy_only=False)
