"""`not_future` uses Beijing's date, also from 00:00 to 08:00 when the machine's UTC date is yesterday."""

from __future__ import annotations

import datetime as dt

from quality_factories import as_table, good_rows, reference_values

from quality import validate
from schemas import load_contract


def test_not_future_accepts_beijing_today_without_an_explicit_day(early_morning_in_beijing: dt.date) -> None:
    beijing_day = early_morning_in_beijing
    contract = load_contract("payment")
    field = next(f for f in contract.fields if any(c.rule == "not_future" for c in f.checks))
    rows = good_rows("payment", 2)
    rows[0][field.name] = beijing_day.isoformat() + (" 01:00:00" if field.type == "timestamp" else "")
    rows[1][field.name] = (beijing_day + dt.timedelta(days=1)).isoformat() + (
        " 00:30:00" if field.type == "timestamp" else ""
    )
    verdict = validate(as_table(rows, contract), contract, references=reference_values())
    assert verdict.today == beijing_day
    rejected = verdict.rejected.to_pylist()
    assert len(rejected) == 1
    assert "not_future" in str(rejected[0])
