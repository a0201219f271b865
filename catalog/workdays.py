"""Working days for the sharing time limits (`catalog.sharing_rules`: answers, disputes), in Beijing time.

Weekends are days off except official make-up working days (调休); public holidays are days off.
Both sets are module-level and meant to be extended each year when the State Council publishes
the next year's arrangement (`HOLIDAYS.update(...)`, `MAKEUP_WORKDAYS.update(...)`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from core.time import BEIJING

__all__ = ["BEIJING", "HOLIDAYS", "MAKEUP_WORKDAYS", "add_working_days", "is_working_day", "working_days_left"]


def _span(start: str, days: int) -> set[date]:
    first = date.fromisoformat(start)
    return {first + timedelta(days=i) for i in range(days)}


# 2026 public holidays as recalled from the State Council's notice (国办发明电〔2025〕号):
# UNCONFIRMED — check against the published notice before relying on exact deadlines.
HOLIDAYS: set[date] = (
    _span("2026-01-01", 3)  # 元旦
    | _span("2026-02-15", 9)  # 春节
    | _span("2026-04-04", 3)  # 清明节
    | _span("2026-05-01", 5)  # 劳动节
    | _span("2026-06-19", 3)  # 端午节
    | _span("2026-09-25", 3)  # 中秋节
    | _span("2026-10-01", 7)  # 国庆节
)
# Weekend days worked in exchange (调休), same source and status: UNCONFIRMED.
MAKEUP_WORKDAYS: set[date] = {
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
}


def is_working_day(day: date) -> bool:
    """A weekday that is not a public holiday, or a make-up working day."""
    if day in MAKEUP_WORKDAYS:
        return True
    return day.weekday() < 5 and day not in HOLIDAYS


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
