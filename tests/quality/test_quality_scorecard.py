"""Scorecard math on the six GB/T 36344 dimensions, merging and JSON round trips."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from quality_factories import TODAY, as_table, good_rows

from quality import DIMENSIONS, Findings, Scorecard, validate
from schemas import QualityError

AS_OF = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)


def _findings(evaluated: dict[str, int], failures: dict[str, int]) -> Findings:
    return Findings(failed={}, evaluated=evaluated, failures=failures)


def test_scores_are_shares_of_passed_evaluations(contracts):
    card = Scorecard.from_findings(
        _findings({"conformance": 200, "completeness": 100}, {"conformance": 10, "completeness": 0}),
        contracts["person"],
        rows=10,
        accessible=True,
        latest_cursor=AS_OF - dt.timedelta(hours=3),
        as_of=AS_OF,
    )
    assert card.scores == {
        "conformance": 0.95,
        "completeness": 1.0,
        "accuracy": None,
        "consistency": None,
        "timeliness": 1.0,
        "accessibility": 1.0,
    }


@pytest.mark.parametrize(
    ("gap_days", "expected"),
    [
        pytest.param(0.5, 1.0, id="within-cycle"),
        pytest.param(2, 0.5, id="two-cycles"),
        pytest.param(4, 0.25, id="four"),
    ],
)
def test_timeliness_from_the_gap_since_the_previous_read_and_update_cycle(gap_days, expected, contracts):
    card = Scorecard.from_findings(
        _findings({}, {}),
        contracts["person"],
        rows=0,
        accessible=True,
        previous_read=AS_OF - dt.timedelta(days=gap_days),
        as_of=AS_OF,
    )
    assert card.cycle_days == 1  # 日
    assert card.score("timeliness") == expected


def test_an_old_last_change_is_reported_not_scored_so_a_current_copy_reads_one(contracts):
    """Data last changed 277 days before, read on its daily cycle: 1.0 (it once read 1/277 ≈ 0.004 while
    the overview said 及时), with the age reported beside it."""
    card = Scorecard.from_findings(
        _findings({}, {}),
        contracts["person"],
        rows=10,
        accessible=True,
        latest_cursor=AS_OF - dt.timedelta(days=277),
        previous_read=AS_OF - dt.timedelta(hours=20),
        as_of=AS_OF,
    )
    assert card.score("timeliness") == 1.0
    assert card.to_dict()["cursor_age_days"] == 277.0


def test_a_first_read_is_timely_and_a_source_without_a_cursor_is_judged_too(contracts):
    card = Scorecard.from_findings(_findings({}, {}), contracts["payment"], rows=0, accessible=False, as_of=AS_OF)
    assert card.score("timeliness") == 1.0
    assert card.score("accessibility") == 0.0
    late = Scorecard.from_findings(
        _findings({}, {}),
        contracts["payment"],
        rows=0,
        accessible=True,
        previous_read=AS_OF - dt.timedelta(days=3),
        as_of=AS_OF,
    )
    assert late.score("timeliness") == round(1 / 3, 6)


def test_merge_adds_counts_and_keeps_the_newest_cursor(contracts):
    person = contracts["person"]
    a = Scorecard.from_findings(
        _findings({"accuracy": 100}, {"accuracy": 10}),
        person,
        rows=50,
        accessible=True,
        latest_cursor=AS_OF - dt.timedelta(days=3),
        as_of=AS_OF,
    )
    b = Scorecard.from_findings(
        _findings({"accuracy": 300}, {"accuracy": 10}),
        person,
        rows=150,
        accessible=False,
        latest_cursor=AS_OF - dt.timedelta(hours=1),
        as_of=AS_OF,
    )
    merged = a.merge(b)
    assert merged.rows == 200
    assert merged.score("accuracy") == 0.95  # (400 - 20) / 400
    assert merged.score("timeliness") == 1.0
    assert merged.score("accessibility") == 0.5
    with pytest.raises(QualityError, match="cannot merge scorecards of 'person' and 'payment'"):
        a.merge(Scorecard(resource="payment"))


def test_from_verdict_and_json_round_trip(contracts):
    contract = contracts["person"]
    rows = good_rows("person", 4)
    rows[0]["ethnicity"] = "99"
    verdict = validate(as_table(rows, contract), contract, today=TODAY)
    card = Scorecard.from_verdict(verdict, contract, accessible=True, as_of=AS_OF)
    assert card.latest_cursor == dt.datetime(2024, 12, 31, 2, 0, tzinfo=dt.UTC)  # 10:00 Shanghai
    total = verdict.findings.evaluated["conformance"]
    assert card.score("conformance") == round(1 - 1 / total, 6)
    data = json.loads(json.dumps(card.to_dict(), ensure_ascii=False))
    assert [d["label"] for d in data["dimensions"]] == [zh for zh, _ in DIMENSIONS.values()]
    assert [d["label_en"] for d in data["dimensions"]][:2] == ["Conformance", "Completeness"]
    assert Scorecard.from_dict(data) == card
