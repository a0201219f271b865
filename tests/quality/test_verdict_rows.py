"""Row handling: references, deletions, duplicates, parse errors, casting of source types."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pyarrow as pa
import pytest
from quality_factories import TODAY, as_table, entity_uscc, good_rows, person_id

from quality import validate
from schemas import QualityError


@pytest.mark.parametrize(
    ("subject_code", "accepted"),
    [
        pytest.param(entity_uscc(1), True, id="in-first-target"),
        pytest.param(person_id(2), True, id="in-second-target"),
        pytest.param(person_id(50), False, id="in-neither"),
    ],
)
def test_references_any_of_two_targets(subject_code, accepted, contracts, references):
    contract = contracts["credit_record"]
    rows = good_rows("credit_record", 1)
    rows[0]["subject_code"] = subject_code
    verdict = validate(as_table(rows, contract), contract, references=references, today=TODAY)
    assert verdict.counts["accepted"] == int(accepted)
    if not accepted:
        (reason,) = verdict.rejected.column("reasons")[0].as_py()
        assert reason["rule"] == "references"
        assert "legal_entity.uscc、person.id_number" in reason["message"]


def test_missing_reference_values_raise(contracts, references):
    contract = contracts["credit_record"]
    only_persons = {"person.id_number": references["person.id_number"]}
    with pytest.raises(QualityError, match=r"needs reference values for \['legal_entity.uscc'\]"):
        validate(as_table(good_rows("credit_record"), contract), contract, references=only_persons, today=TODAY)


def test_reference_targets_of_other_types_are_compared_as_text(contracts):
    contract = contracts["payment"]
    refs = {"person.id_number": pa.chunked_array([[person_id(0)], [person_id(1), person_id(2)]])}
    verdict = validate(as_table(good_rows("payment"), contract), contract, references=refs, today=TODAY)
    assert verdict.counts["accepted"] == 3


def test_deleted_rows_need_only_a_valid_key(contracts):
    contract = contracts["person"]
    rows = good_rows("person", 3)
    rows[0].update(name=None, ethnicity="99", birth_date="garbage")  # deleted: only the key matters
    rows[1]["id_number"] = rows[1]["id_number"][:17] + ("1" if rows[1]["id_number"][-1] != "1" else "2")
    verdict = validate(as_table(rows, contract, _deleted=[True, True, False]), contract, today=TODAY)
    assert verdict.counts == {"rows": 3, "accepted": 2, "rejected": 1, "warned": 0}
    assert verdict.accepted.column_names[-1] == "_deleted"
    assert verdict.accepted.column("_deleted").to_pylist() == [True, False]
    (reason,) = verdict.rejected.column("reasons")[0].as_py()
    assert reason["rule"] == "gb11643"


def test_duplicate_keys_in_one_file_reject_the_later_rows(contracts):
    contract = contracts["payment"]
    rows = good_rows("payment", 2) * 2  # keys A B A B
    rows = [dict(r) for r in rows]
    files = ["a.csv", "a.csv", "a.csv", "b.csv"]
    table = as_table(rows, contract, _source_file=files, _source_line=[2, 3, 4, 2])
    verdict = validate(
        table, contract, references={"person.id_number": pa.array([person_id(0), person_id(1)])}, today=TODAY
    )
    assert verdict.counts["rejected"] == 1  # row 3 repeats row 1 in a.csv; b.csv's copy is a later update
    row = verdict.rejected.to_pylist()[0]
    assert (row["source_file"], row["source_line"], row["row_key"]) == ("a.csv", 4, rows[0]["payment_code"])
    assert row["reasons"][0]["rule"] == "unique"
    assert "缴款码重复" in row["reasons"][0]["message"]
    assert "_source_file" not in json.loads(row["record"])


def test_missing_key_uses_file_and_line_as_row_key(contracts, references):
    contract = contracts["payment"]
    rows = good_rows("payment", 2)
    rows[1]["payment_code"] = " "
    table = as_table(rows, contract, _source_file=["s.csv", "s.csv"], _source_line=[2, 3])
    verdict = validate(table, contract, references=references, today=TODAY)
    assert verdict.rejected.column("row_key").to_pylist() == ["s.csv:3"]


def test_parse_errors_are_rejected_with_the_raw_text(contracts, references):
    contract = contracts["payment"]
    rows = good_rows("payment", 2)
    rows[1] = dict.fromkeys(rows[1])
    table = as_table(
        rows,
        contract,
        _parse_error=[None, "expected 16 columns, got 3"],
        _raw=[None, "a,b,c"],
        _source_file=["s.csv", "s.csv"],
        _source_line=[2, 3],
    )
    verdict = validate(table, contract, references=references, today=TODAY)
    assert verdict.counts == {"rows": 2, "accepted": 1, "rejected": 1, "warned": 0}
    row = verdict.rejected.to_pylist()[0]
    assert [r["rule"] for r in row["reasons"]] == ["parse"]  # no noise from the empty fields
    assert row["reasons"][0]["message"] == "记录无法解析：expected 16 columns, got 3"
    assert row["reasons"][0]["value"] == "a,b,c"
    assert json.loads(row["record"])["_raw"] == "a,b,c"
    assert row["row_key"] == "s.csv:3"


def test_missing_contract_column_raises(contracts):
    contract = contracts["person"]
    table = as_table(good_rows("person"), contract).drop_columns(["phone"])
    with pytest.raises(QualityError, match=r"lacks contract field\(s\) \['phone'\]"):
        validate(table, contract, today=TODAY)


def test_native_source_types_are_cast(contracts):
    """SQL/JSON sources give native types: naive datetimes are Shanghai time, stored as UTC."""
    contract = contracts["legal_entity"]
    rows = good_rows("legal_entity", 3)
    table = as_table(rows, contract)
    table = table.set_column(
        table.schema.get_field_index("updated_at"),
        "updated_at",
        pa.array([dt.datetime(2024, 6, 1, 8, 0), dt.datetime(1988, 6, 1, 12, 0), None]),
    )
    table = table.set_column(
        table.schema.get_field_index("registered_capital"), "registered_capital", pa.array([12.5, 0.12345, None])
    )
    table = table.set_column(
        table.schema.get_field_index("established_date"),
        "established_date",
        pa.array([dt.date(2010, 1, 1), dt.date(2011, 2, 3), dt.date(2012, 3, 4)]),
    )
    verdict = validate(
        table, contract, references={"person.id_number": pa.array([r["legal_rep_id"] for r in rows])}, today=TODAY
    )
    assert verdict.counts["rejected"] == 2  # 0.12345 exceeds scale 4; row 3 lacks updated_at
    utc = dt.UTC
    assert verdict.accepted.column("updated_at").to_pylist() == [dt.datetime(2024, 6, 1, 0, 0, tzinfo=utc)]
    assert verdict.accepted.column("registered_capital").to_pylist() == [decimal.Decimal("12.5000")]
    reasons = {r["rule"] for row in verdict.rejected.column("reasons").to_pylist() for r in row}
    assert reasons == {"type", "required"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2024-06-01 08:00:00", dt.datetime(2024, 6, 1, 0, 0), id="naive-space"),
        pytest.param("2024-06-01T08:00:00.250", dt.datetime(2024, 6, 1, 0, 0, 0, 250000), id="naive-T-fraction"),
        pytest.param("2024-06-01T08:00:00+08:00", dt.datetime(2024, 6, 1, 0, 0), id="offset"),
        pytest.param("2024-06-01T08:00:00Z", dt.datetime(2024, 6, 1, 8, 0), id="zulu"),
        pytest.param("1988-06-01 12:00:00", dt.datetime(1988, 6, 1, 3, 0), id="summer-time-1988"),
        pytest.param("2024-06-31 08:00:00", None, id="impossible-day"),
        pytest.param("2024-06-01 24:00:00", None, id="impossible-hour"),
    ],
)
def test_timestamp_strings_become_utc(text, expected, contracts, references):
    contract = contracts["person"]
    rows = good_rows("person", 1)
    rows[0]["updated_at"] = text
    verdict = validate(as_table(rows, contract), contract, today=TODAY)
    if expected is None:
        assert verdict.rejected.column("reasons")[0].as_py()[0]["rule"] == "type"
    else:
        assert verdict.accepted.column("updated_at")[0].as_py() == expected.replace(tzinfo=dt.UTC)
