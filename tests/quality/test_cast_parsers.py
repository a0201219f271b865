"""Date and timestamp parsing: Arrow's fast path and the numpy parser give the same values and failures."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest

from quality import cast


def _both(monkeypatch: pytest.MonkeyPatch, parse, values: list[str | None]) -> tuple[list, list]:
    arr = pa.array(values, pa.string())
    fast = parse(arr).to_pylist()
    monkeypatch.setattr(cast, "_arrow_cast", lambda *a, **k: None)
    slow = parse(arr).to_pylist()
    monkeypatch.undo()
    return fast, slow


def _days(rng: random.Random, n: int) -> list[dt.date]:
    return [dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(60_000)) for _ in range(n)]


def test_plain_dates_parse_alike_and_bad_ones_leave_the_fast_path(monkeypatch):
    rng = random.Random(5)
    values: list[str | None] = [d.isoformat() for d in _days(rng, 500)] + [None]
    fast, slow = _both(monkeypatch, cast.parse_dates, values)
    assert fast == slow and fast[0] == dt.date.fromisoformat(values[0])
    for bad in ("2023-02-29", "0000-01-01", "2023-1-01"):  # each sends the column to the numpy parser
        fast, slow = _both(monkeypatch, cast.parse_dates, [*values[:5], bad])
        assert fast == slow and fast[-1] is None and fast[0] is not None


def test_plain_timestamps_parse_alike_across_the_1991_offset_change(monkeypatch):
    rng = random.Random(6)
    values: list[str | None] = [
        f"{d.isoformat()}{rng.choice(' T')}{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        for d in _days(rng, 500)
    ] + [None, "2025-06-23 20:41:31.843872", "2025-06-23 20:41:31.8", "1988-06-01 12:00:00"]
    fast, slow = _both(monkeypatch, cast.parse_timestamps, values)
    assert fast == slow
    assert fast[-1] == dt.datetime(1988, 6, 1, 3, tzinfo=dt.UTC)  # summer time in 1988: UTC+9
    odd = (
        "2023-02-28 24:00:00",
        "2023-02-28 10:00",
        "0000-01-01 00:00:00",
        "2023-02-28 10:00:00Z",
        "2023-02-28 10:00:00.1234567",
        "2023-02-28 10:00:00+08:00",
        "2023-02-28 10:00:00.",
    )
    for bad in odd:
        fast, slow = _both(monkeypatch, cast.parse_timestamps, [*values[:5], bad])
        assert fast == slow and fast[0] is not None
