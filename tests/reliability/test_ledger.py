"""The ledger refuses impossible tallies and sums what it was told."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.__main__ import render
from tests.reliability.ledger import read_ledger, record, totals


def test_record_appends_and_totals_sum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.jsonl"
    monkeypatch.setenv("GOVHUB_RELIABILITY_LEDGER", str(path))
    record("inputs", "bad id numbers", tried=10, held=10)
    record("inputs", "bad dates", tried=5, held=4, rows_lost=1, note="one slipped")
    sums = totals(read_ledger(path))
    assert sums["inputs"] == {"cases": 2, "tried": 15, "held": 14, "failed": 1, "rows_lost": 1}
    assert "**Rows lost: 1.**" in render(read_ledger(path), long=False, seconds=1.0, exit_code=0)


@pytest.mark.parametrize(("section", "tried", "held"), [("nope", 1, 1), ("crash", 1, 2), ("crash", 1, -1)])
def test_record_refuses_unknown_sections_and_impossible_counts(section: str, tried: int, held: int) -> None:
    with pytest.raises(ValueError):
        record(section, "x", tried=tried, held=held)


def test_record_replaces_only_its_own_form(tmp_path: Path) -> None:
    from tests.reliability.__main__ import write_record

    doc = tmp_path / "reliability.md"
    doc.write_text("# Reliability\n\nprose kept\n", encoding="utf-8")
    write_record(doc, "first bounded\n", long=False)
    write_record(doc, "long figures\n", long=True)
    write_record(doc, "second bounded\n", long=False)
    text = doc.read_text(encoding="utf-8")
    assert "prose kept" in text and "long figures" in text and "second bounded" in text
    assert "first bounded" not in text


def test_every_fixed_regression_trial_names_a_kill_point_that_exists() -> None:
    """A renamed commit point must not silently drop a regression trial (the crash loop looks them up)."""
    from tests.reliability.crash_points import DELIVERY_POINTS, INGEST_POINTS
    from tests.reliability.crash_support import REGRESSIONS

    labels = {p.label for p in (*INGEST_POINTS, *DELIVERY_POINTS)}
    assert [r[3] for r in REGRESSIONS if r[3] not in labels] == []
