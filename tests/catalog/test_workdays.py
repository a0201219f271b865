"""Working-day deadlines: weekends, public holidays and make-up working days, in Beijing time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from catalog.workdays import (
    BEIJING,
    HolidayFileInvalid,
    add_working_days,
    calendar_basis,
    covered_years,
    is_working_day,
)
from core.settings import reset_settings


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


def test_2026_matches_the_state_council_arrangement() -> None:
    """Every day off on a weekday and every weekend day worked in 2026 (国办发明电〔2025〕7号)."""
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    weekdays_off = {d for d in days if d.weekday() < 5 and not is_working_day(d)}
    weekends_worked = {d for d in days if d.weekday() >= 5 and is_working_day(d)}
    assert weekdays_off == {
        *(date(2026, 1, d) for d in (1, 2)),  # 元旦
        *(date(2026, 2, d) for d in (16, 17, 18, 19, 20, 23)),  # 春节
        date(2026, 4, 6),  # 清明节
        *(date(2026, 5, d) for d in (1, 4, 5)),  # 劳动节
        date(2026, 6, 19),  # 端午节
        date(2026, 9, 25),  # 中秋节
        *(date(2026, 10, d) for d in (1, 2, 5, 6, 7)),  # 国庆节
    }
    assert weekends_worked == {
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    }


def test_a_year_without_an_official_arrangement_is_provisional_not_refused(caplog: pytest.LogCaptureFixture) -> None:
    year = covered_years()[1] + 1
    assert calendar_basis(year) == "provisional"
    assert not is_working_day(date(year, 1, 1))  # 元旦, whatever weekday
    assert not is_working_day(date(year, 10, 2))  # 国庆节
    monday = next(date(year, 3, d) for d in range(1, 8) if date(year, 3, d).weekday() == 0)
    assert is_working_day(monday)
    assert not is_working_day(monday + timedelta(days=5))  # its Saturday
    assert add_working_days(datetime(year - 1, 12, 28, 2, 0, tzinfo=UTC), 10) > datetime(year, 1, 1, tzinfo=UTC)
    assert any(f"no official holiday arrangement for {year}" in r.getMessage() for r in caplog.records)


def test_an_administrator_supplies_a_year_from_the_state_councils_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    year = covered_years()[1] + 1
    saturday = next(date(year, 2, d) for d in range(1, 8) if date(year, 2, d).weekday() == 5)
    holiday = saturday + timedelta(days=2)  # a Monday off, the Saturday before worked
    arrangement = tmp_path / "holidays.json"
    arrangement.write_text(
        json.dumps({str(year): {"holidays": [holiday.isoformat()], "workdays": [saturday.isoformat()]}})
    )
    monkeypatch.setenv("GOVHUB_HOLIDAY_CALENDAR_FILE", str(arrangement))
    reset_settings()
    try:
        assert calendar_basis(year) == "admin_file"
        assert is_working_day(saturday) and not is_working_day(holiday)
        assert is_working_day(holiday + timedelta(days=1))
        arrangement_bad = tmp_path / "bad.json"
        arrangement_bad.write_text(json.dumps({str(year): {"holidays": ["not a date"]}}))
        monkeypatch.setenv("GOVHUB_HOLIDAY_CALENDAR_FILE", str(arrangement_bad))
        reset_settings()
        with pytest.raises(HolidayFileInvalid, match="GOVHUB_HOLIDAY_CALENDAR_FILE") as bad:
            is_working_day(holiday)
        assert "节假日安排文件" in bad.value.message_zh
    finally:
        monkeypatch.delenv("GOVHUB_HOLIDAY_CALENDAR_FILE")
        reset_settings()


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_days(datetime(2026, 3, 6), 10)


def test_the_approval_page_marks_a_provisional_deadline() -> None:
    from web.routes.monitor_approvals import due_is_provisional, working_days_left

    last = covered_years()[1]
    due = datetime(last, 12, 30, 15, 59, 59, tzinfo=UTC)
    assert working_days_left(due, datetime(last, 12, 28, 2, tzinfo=UTC)) == 2
    assert not due_is_provisional(datetime(last, 12, 1, tzinfo=UTC), due)
    late = add_working_days(datetime(last, 12, 28, 2, tzinfo=UTC), 10)
    assert due_is_provisional(datetime(last, 12, 28, 2, tzinfo=UTC), late)
    assert working_days_left(late, datetime(last + 1, 1, 4, 2, tzinfo=UTC)) is not None
