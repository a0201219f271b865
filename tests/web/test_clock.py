"""One clock: moments the hub shows or answers are Beijing time, labelled, with +08:00 in JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from web.clock import BeijingTime, beijing_iso, beijing_json, beijing_text


class _Answer(BaseModel):
    at: BeijingTime
    maybe: BeijingTime | None = None


def test_naive_moments_are_utc_and_answer_with_the_beijing_offset() -> None:
    naive = datetime(2026, 5, 1, 16, 30)  # how SQLite hands a stored UTC moment back
    assert _Answer(at=naive).model_dump_json() == '{"at":"2026-05-02T00:30:00+08:00","maybe":null}'
    assert beijing_iso(datetime(2026, 5, 1, 16, 30, tzinfo=UTC)) == "2026-05-02T00:30:00+08:00"


def test_pages_print_beijing_wall_time_from_datetimes_and_iso_text() -> None:
    assert beijing_text(datetime(2026, 5, 1, 16, 30, tzinfo=UTC)) == "2026-05-02 00:30"
    assert beijing_text("2026-05-01T16:30:05Z", seconds=True) == "2026-05-02 00:30:05"
    assert beijing_text(None) == "—"


def test_json_answers_have_no_z_and_no_naive_moment() -> None:
    body = beijing_json({"rows": [{"at": datetime(2026, 1, 1)}], "when": (datetime(2026, 1, 1, tzinfo=UTC),)})
    assert body == {"rows": [{"at": "2026-01-01T08:00:00+08:00"}], "when": ["2026-01-01T08:00:00+08:00"]}
