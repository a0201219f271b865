"""From 00:00 to 08:00 Beijing time the machine's (UTC) date is yesterday: every "today" must be Beijing's."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa

import core.time
from core.time import BEIJING, beijing_day_start, beijing_today, to_beijing
from quality.codes import check_id_numbers, make_id_number

BEIJING_DAY = dt.date(2026, 3, 1)  # the day of the `early_morning_in_beijing` fixture (tests/conftest.py)


def test_beijing_today_is_the_civil_date_in_beijing_not_the_machines(early_morning_in_beijing) -> None:
    assert os.environ["TZ"] == "UTC"
    assert beijing_today() == BEIJING_DAY
    assert core.time.utcnow().date() == dt.date(2026, 2, 28)


def test_id_number_born_today_in_beijing_is_valid_before_8am(early_morning_in_beijing) -> None:
    born_today = make_id_number("430902", BEIJING_DAY, 1)
    born_tomorrow = make_id_number("430902", BEIJING_DAY + dt.timedelta(days=1), 1)
    reasons = check_id_numbers(pa.array([born_today, born_tomorrow])).to_pylist()
    assert reasons == [None, "birth_date"]


def test_pipeline_day_is_beijings(early_morning_in_beijing) -> None:
    from govhub.pipeline.resources import ResourceContext

    assert ResourceContext.today.fget(None) == BEIJING_DAY  # type: ignore[union-attr]


def test_day_start_and_conversion() -> None:
    assert beijing_day_start(BEIJING_DAY) == dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC)
    assert to_beijing(dt.datetime(2026, 2, 28, 16, 0)) == dt.datetime(2026, 3, 1, 0, 0, tzinfo=BEIJING)
