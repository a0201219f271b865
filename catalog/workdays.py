"""Working days for the sharing time limits (`catalog.sharing_rules`: answers, disputes), in Beijing time.

The official calendar comes from `chinesecalendar` (the State Council's yearly arrangement: public
holidays and the weekend days worked in exchange, 调休). A year the installed package does not cover
is refused with `CalendarYearMissing` rather than guessed: upgrade the package once the next year's
arrangement is published (usually in November).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
from chinese_calendar.constants import holidays as _official_holidays

from core.time import BEIJING
from schemas import GovhubError

__all__ = [
    "BEIJING",
    "CalendarYearMissing",
    "add_working_days",
    "covered_years",
    "is_working_day",
    "working_days_left",
]


class CalendarYearMissing(GovhubError):
    """The official holiday arrangement for a year is not in the installed `chinesecalendar`.

    `message_zh` is what department users see (the web layer shows it with the English message).
    """

    def __init__(self, year: int, first: int, last: int) -> None:
        self.year = year
        self.message_zh = (
            f"工作日历中没有 {year} 年的法定节假日安排，无法计算办理时限：请平台管理员在国务院公布 {year} 年"
            "节假日安排后升级 chinesecalendar 并重启平台"
        )
        super().__init__(
            f"the working-day calendar has no official holidays for {year} (the installed chinesecalendar "
            f"{getattr(chinese_calendar, '__version__', '?')} covers {first}–{last}); a hub administrator must "
            f"upgrade it once the State Council has published {year}'s arrangement: "
            "`pip install --upgrade chinesecalendar` in the hub's environment, then restart the hub"
        )


def covered_years() -> tuple[int, int]:
    """The first and last year whose official arrangement the installed `chinesecalendar` holds."""
    years = [day.year for day in _official_holidays]
    return min(years), max(years)


def is_working_day(day: date) -> bool:
    """A weekday that is not a public holiday, or a make-up working day (调休), per the official calendar."""
    first, last = covered_years()
    if not first <= day.year <= last:
        raise CalendarYearMissing(day.year, first, last)
    return bool(chinese_calendar.is_workday(day))


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
