"""Working days for the sharing time limits (`catalog.sharing_rules`: answers, disputes), in Beijing time.

Where a year's days come from, in order (`calendar_basis`):
1. `official`: `chinesecalendar`, the State Council's yearly arrangement of public holidays and the
   weekend days worked in exchange (调休);
2. `admin_file`: the arrangement a hub administrator copied from the State Council's notice into
   `GOVHUB_HOLIDAY_CALENDAR_FILE`, for a year published before the package carries it;
3. `provisional`: neither has the year (the notice usually comes in November, the package later).
   Applications must not stop for that, so the days are weekdays less the fixed-date holidays of the
   全国年节及纪念日放假办法 (1 Jan, 1–2 May, 1–3 Oct); the lunar holidays and 调休 are unknown,
   so a provisional deadline can fall early. Pages mark such deadlines 暂定 and the hub logs a
   warning naming the year and how to fix it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import chinese_calendar
from chinese_calendar.constants import holidays as _official_holidays

from core.settings import get_settings
from core.time import BEIJING
from schemas import GovhubError

__all__ = [
    "BEIJING",
    "CalendarBasis",
    "HolidayFileInvalid",
    "add_working_days",
    "calendar_basis",
    "covered_years",
    "is_working_day",
    "working_days_left",
]

log = logging.getLogger(__name__)

CalendarBasis = Literal["official", "admin_file", "provisional"]

# 全国年节及纪念日放假办法 (2024 revision): the statutory days whose Gregorian date is fixed
FIXED_DATE_HOLIDAYS = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))


class HolidayFileInvalid(GovhubError):
    """`GOVHUB_HOLIDAY_CALENDAR_FILE` cannot be read as the arrangement it should hold."""

    def __init__(self, path: Path, reason: str) -> None:
        self.message_zh = f"节假日安排文件 {path} 无法读取：{reason}；请按 catalog/README.md 的格式改正后重启平台"
        super().__init__(
            f"the holiday arrangement file {path} (GOVHUB_HOLIDAY_CALENDAR_FILE) is invalid: {reason}; "
            'fix it as catalog/README.md shows ({"2027": {"holidays": [...], "workdays": [...]}}) and restart'
        )


def covered_years() -> tuple[int, int]:
    """The first and last year whose official arrangement the installed `chinesecalendar` holds."""
    years = [day.year for day in _official_holidays]
    return min(years), max(years)


@cache
def _admin_arrangement(path: Path | None) -> dict[int, tuple[frozenset[date], frozenset[date]]]:
    """Per year, the (holidays, make-up workdays) an administrator supplied; {} when no file is set."""
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {
            int(year): (
                frozenset(date.fromisoformat(d) for d in days.get("holidays", [])),
                frozenset(date.fromisoformat(d) for d in days.get("workdays", [])),
            )
            for year, days in raw.items()
        }
    except (OSError, ValueError, AttributeError, TypeError) as e:
        raise HolidayFileInvalid(path, str(e)) from e


def _admin_years() -> dict[int, tuple[frozenset[date], frozenset[date]]]:
    return _admin_arrangement(get_settings().holiday_calendar_file)


def calendar_basis(year: int) -> CalendarBasis:
    """Where the working days of `year` come from (see the module's docstring)."""
    first, last = covered_years()
    if first <= year <= last:
        return "official"
    return "admin_file" if year in _admin_years() else "provisional"


@cache
def _warn_provisional(year: int) -> None:
    first, last = covered_years()
    log.warning(
        "no official holiday arrangement for %s (chinesecalendar %s covers %s–%s): deadlines in %s are provisional "
        "(weekends and fixed-date holidays only); upgrade chinesecalendar once it carries %s, or copy the State "
        "Council's notice into GOVHUB_HOLIDAY_CALENDAR_FILE",
        year,
        getattr(chinese_calendar, "__version__", "?"),
        first,
        last,
        year,
        year,
    )


def is_working_day(day: date) -> bool:
    """A weekday that is not a public holiday, or a make-up working day (调休), on the year's calendar basis."""
    basis = calendar_basis(day.year)
    if basis == "official":
        return bool(chinese_calendar.is_workday(day))
    if basis == "admin_file":
        holidays, workdays = _admin_years()[day.year]
        return day in workdays or (day.weekday() < 5 and day not in holidays)
    _warn_provisional(day.year)
    return day.weekday() < 5 and (day.month, day.day) not in FIXED_DATE_HOLIDAYS


def add_working_days(start: datetime, days: int) -> datetime:
    """The end (23:59:59 Beijing time, returned in UTC) of the `days`-th working day after `start`.

    The day of `start` itself does not count, as with administrative time limits: an application
    on a Friday afternoon with 10 working days is due at the end of the second Friday after.
    """
    if start.tzinfo is None:
        raise ValueError("add_working_days needs a timezone-aware datetime")
    day = start.astimezone(BEIJING).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    end = datetime.combine(day, time(23, 59, 59), tzinfo=BEIJING)
    return end.astimezone(UTC)


def working_days_left(now: datetime, due: datetime) -> int:
    """Working days from `now` to `due` (Beijing calendar days, `now`'s day not counted): 0 on the due day,
    negative once past it (the working days overdue)."""
    if now.tzinfo is None or due.tzinfo is None:
        raise ValueError("working_days_left needs timezone-aware datetimes")
    today, last = now.astimezone(BEIJING).date(), due.astimezone(BEIJING).date()
    step = 1 if last >= today else -1
    day, counted = today, 0
    while day != last:
        day += timedelta(days=step)
        if is_working_day(day):
            counted += step
    return counted
