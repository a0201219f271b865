"""The hub's clocks: UTC for stored moments, Beijing time for the civil date users and rules mean.

China has one time zone and no daylight saving time since 1991; `BEIJING` is the IANA zone so
Python and Arrow (`BEIJING_TZ_NAME`) convert historical moments the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

__all__ = [
    "BEIJING",
    "BEIJING_TZ_NAME",
    "beijing_day_start",
    "beijing_now",
    "beijing_today",
    "to_beijing",
    "utcnow",
]

BEIJING_TZ_NAME = "Asia/Shanghai"
BEIJING = ZoneInfo(BEIJING_TZ_NAME)


def utcnow() -> datetime:
    """Timezone-aware now in UTC: the only clock the metadata tables and the exchange log store."""
    return datetime.now(UTC)


def beijing_now() -> datetime:
    """Timezone-aware now in Beijing time (what users read on pages, answers and reports)."""
    return datetime.now(BEIJING)


def beijing_today() -> date:
    """The civil date in Beijing now, whatever the machine's zone (containers run on UTC)."""
    return beijing_now().date()


def to_beijing(moment: datetime) -> datetime:
    """An aware moment in Beijing time; a naive one is taken as UTC (how SQLite hands them back)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING)


def beijing_day_start(day: date) -> datetime:
    """The UTC moment at which a Beijing civil day begins (00:00 Beijing = 16:00 UTC the day before)."""
    return datetime.combine(day, time(), tzinfo=BEIJING).astimezone(UTC)
