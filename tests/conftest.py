"""Fixtures every room's tests may use."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

import core.time

# 2026-03-01 01:30 in Beijing is still 2026-02-28 in UTC
MOMENT_UTC = dt.datetime(2026, 2, 28, 17, 30, tzinfo=dt.UTC)


class _FrozenDatetime(dt.datetime):
    """`datetime` whose now() is MOMENT_UTC, in whatever zone is asked for."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _FrozenDatetime:  # type: ignore[override]
        moment = MOMENT_UTC.astimezone(tz) if tz else MOMENT_UTC.replace(tzinfo=None)
        return cls.fromtimestamp(moment.timestamp(), tz) if tz else cls.fromtimestamp(moment.timestamp())


@pytest.fixture
def early_morning_in_beijing(monkeypatch: pytest.MonkeyPatch) -> Iterator[dt.date]:
    """A machine on UTC at 2026-02-28 17:30 while it is 2026-03-01 01:30 in Beijing; yields that Beijing day."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(core.time, "datetime", _FrozenDatetime)
    yield dt.date(2026, 3, 1)
    monkeypatch.undo()
    time.tzset()
