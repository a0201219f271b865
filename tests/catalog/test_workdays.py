"""Working-day deadlines: weekends, public holidays and make-up working days, in Beijing time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from catalog.workdays import BEIJING, HOLIDAYS, add_working_days, is_working_day


def test_plain_weeks_skip_weekends() -> None:
    applied = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)  # Friday 15:00 in Beijing
    due = add_working_days(applied, 10)
    assert due.astimezone(BEIJING).date() == date(2026, 3, 20)  # the second Friday after
    assert due.astimezone(BEIJING).time().isoformat() == "23:59:59"
    assert due.tzinfo == UTC


def test_national_day_holidays_are_skipped_and_make_up_saturday_counts() -> None:
    applied = datetime(2026, 9, 24, 8, 0, tzinfo=UTC)  # Thursday
    assert add_working_days(applied, 10).astimezone(BEIJING).date() == date(2026, 10, 15)


def test_the_application_day_uses_beijing_time() -> None:
    late_evening_utc = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)  # already Friday 01:00 in Beijing
    assert add_working_days(late_evening_utc, 1).astimezone(BEIJING).date() == date(2026, 3, 9)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 17), False),  # 春节, a Tuesday
        (date(2026, 2, 14), True),  # make-up Saturday
        (date(2026, 3, 7), False),  # ordinary Saturday
        (date(2026, 3, 9), True),  # ordinary Monday
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_holidays_can_be_extended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("catalog.workdays.HOLIDAYS", HOLIDAYS | {date(2026, 3, 9)})
    assert is_working_day(date(2026, 3, 9)) is False


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_days(datetime(2026, 3, 6), 10)
