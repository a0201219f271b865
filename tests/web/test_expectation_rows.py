"""Stored GX results in words, with the values GX quotes masked by their fields' PII classes."""

from __future__ import annotations

from datetime import UTC, datetime

from web.monitor.expectations import StoredSuite, expectation_rows, masked_result

CITIZEN = "430902199001011234"


def _suite(result: dict) -> StoredSuite:
    return StoredSuite("person", 3, "person-000004-x", datetime(2026, 5, 1, tzinfo=UTC), False, result)


def test_quoted_values_are_masked_by_pii_class_and_codes_stay() -> None:
    stored = {
        "results": [
            {
                "expectation": "expect_column_values_to_be_unique",
                "kwargs": {"column": "id_number"},
                "success": False,
                "result": {"element_count": 10, "unexpected_count": 2, "partial_unexpected_list": [CITIZEN, CITIZEN]},
            },
            {
                "expectation": "expect_compound_columns_to_be_unique",
                "kwargs": {"column_list": ["id_number", "name"]},
                "success": False,
                "result": {"partial_unexpected_list": [{"id_number": CITIZEN, "name": "张三丰"}]},
            },
            {
                "expectation": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "status", "value_set": ["1", "2"]},
                "success": False,
                "result": {"partial_unexpected_list": ["9"]},
            },
        ]
    }
    masked = masked_result("person", stored)
    text = repr(masked)
    assert CITIZEN not in text and "张三丰" not in text
    assert masked["results"][2]["result"]["partial_unexpected_list"] == ["9"]  # a code, not personal data
    assert stored["results"][0]["result"]["partial_unexpected_list"] == [CITIZEN, CITIZEN]  # the input is kept


def test_rows_name_the_expectation_field_rule_and_outcome_in_chinese() -> None:
    suite = _suite(
        {
            "results": [
                {
                    "expectation": "expect_column_values_to_not_be_null",
                    "kwargs": {"column": "phone", "mostly": 0.9},
                    "severity": "warning",
                    "success": True,
                    "result": {"element_count": 200, "unexpected_count": 4, "unexpected_percent": 2.0},
                },
                {
                    "expectation": "expect_table_row_count_to_be_between",
                    "kwargs": {"min_value": 1},
                    "success": True,
                    "result": {"observed_value": 200},
                },
            ]
        }
    )
    phone, count = expectation_rows(suite, "zh")
    assert (phone["name"], phone["fields"], phone["severity"]) == ("字段值不为空", "联系电话", "warning")
    assert phone["rule"] == "至少 90.0% 的行满足" and phone["observed"] == "不符合 4 / 共 200 行（2.00%）"
    assert (count["name"], count["fields"], count["observed"], count["rule"]) == (
        "行数在范围内",
        "—",
        "200",
        "范围 1 ～ —",
    )
    assert expectation_rows(suite, "en")[0]["name"] == "values not null"
