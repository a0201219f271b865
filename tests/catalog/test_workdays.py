"""Working-day deadlines: weekends, public holidays and make-up working days, in Beijing time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from catalog.workdays import BEIJING, CalendarYearMissing, add_working_days, covered_years, is_working_day


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


def test_a_year_without_an_official_arrangement_is_refused_not_guessed() -> None:
    last = covered_years()[1]
    with pytest.raises(
        CalendarYearMissing, match=rf"no official holidays for {last + 1}.*pip install --upgrade chinesecalendar"
    ):
        is_working_day(date(last + 1, 3, 9))
    with pytest.raises(CalendarYearMissing) as missing:  # a deadline reaching past the covered years
        add_working_days(datetime(last, 12, 28, 2, 0, tzinfo=UTC), 10)
    assert f"没有 {last + 1} 年的法定节假日安排" in missing.value.message_zh


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_days(datetime(2026, 3, 6), 10)


def test_the_api_answer_tells_the_department_in_chinese_what_is_missing() -> None:
    from web.auth import http_error

    answer = http_error(CalendarYearMissing(2027, 2004, 2026))
    assert answer.status_code == 422
    assert "没有 2027 年的法定节假日安排" in json.dumps(answer.detail, ensure_ascii=False)
    assert "pip install --upgrade chinesecalendar" in json.dumps(answer.detail)


def test_the_approval_page_drops_the_countdown_while_a_year_is_missing() -> None:
    from web.routes.monitor_approvals import working_days_left

    last = covered_years()[1]
    due = datetime(last, 12, 30, 15, 59, 59, tzinfo=UTC)
    assert working_days_left(due, datetime(last, 12, 28, 2, tzinfo=UTC)) == 2
    assert working_days_left(due, datetime(last + 1, 1, 6, 2, tzinfo=UTC)) is None
