"""Every contract rule passing and failing with its reason, on small hand-built batches."""

from __future__ import annotations

import json

import pytest
from quality_factories import TODAY, as_table, good_rows, person_id

from quality import QUARANTINE_SCHEMA, validate
from schemas import arrow_schema


@pytest.mark.parametrize("resource", ["person", "legal_entity", "payment", "credit_record"])
def test_good_rows_are_accepted_typed(resource, contracts, references):
    contract = contracts[resource]
    verdict = validate(as_table(good_rows(resource), contract), contract, references=references, today=TODAY)
    assert verdict.counts == {"rows": 3, "accepted": 3, "rejected": 0, "warned": 0}
    assert verdict.accepted.schema.equals(arrow_schema(contract))
    assert verdict.rejected.schema.equals(QUARANTINE_SCHEMA)
    assert verdict.warned.num_rows == 0


# resource, field overrides on row 0, then the expected (rule, field, severity) and message fragment
FAILURES = [
    pytest.param("person", {"id_number": person_id(0)[:17] + "9"}, "gb11643", "id_number", "error",
                 "公民身份号码校验位错误：", id="gb11643-check-digit"),
    pytest.param("person", {"id_number": "43090219900517001"}, "gb11643", "id_number", "error",
                 "公民身份号码格式错误", id="gb11643-format"),
    pytest.param("person", {"name": None}, "required", "name", "error", "姓名为必填项，不能为空", id="required-null"),
    pytest.param("person", {"name": "   "}, "required", "name", "error", "姓名为必填项", id="required-blank"),
    pytest.param("person", {"household_address": "x"}, "length", "household_address", "error",
                 "户籍地址长度应为2到200个字符，实际为1个：x", id="length-min"),
    pytest.param("person", {"name": "张" * 31}, "length", "name", "error", "姓名长度应为1到30个字符，实际为31个",
                 id="length-max"),
    pytest.param("person", {"ethnicity": "99"}, "enum", "ethnicity", "error",
                 "民族不在代码表（GB/T 3304-1991）中：99", id="enum"),
    pytest.param("person", {"birth_date": "1990-02-30"}, "type", "birth_date", "error",
                 "出生日期不是有效的日期（YYYY-MM-DD）：1990-02-30", id="type-date-impossible"),
    pytest.param("person", {"birth_date": "17/05/1990"}, "type", "birth_date", "error", "出生日期不是有效的日期",
                 id="type-date-format"),
    pytest.param("person", {"updated_at": "yesterday"}, "type", "updated_at", "error",
                 "更新时间不是有效的日期时间", id="type-timestamp"),
    pytest.param("person", {"birth_date": "1880-01-01"}, "range", "birth_date", "error",
                 "出生日期超出取值范围[1890-01-01, +∞]：1880-01-01", id="range-date"),
    pytest.param("person", {"birth_date": "2030-01-01"}, "not_future", "birth_date", "error",
                 "出生日期晚于当前日期：2030-01-01", id="not_future-date"),
    pytest.param("person", {"birth_date": "1990-05-18"}, "id_birth_date", "birth_date", "error",
                 "出生日期与公民身份号码中的出生日期（1990-05-17）不一致：1990-05-18", id="id_birth_date"),
    pytest.param("person", {"region_code": "999999"}, "gb2260", "region_code", "error",
                 "户籍地区划代码不是有效的行政区划代码（GB/T 2260）：999999", id="gb2260"),
    pytest.param("person", {"household_number": "12345"}, "pattern", "household_number", "error",
                 "户号格式不符合规则", id="pattern"),
    pytest.param("person", {"gender": "2"}, "id_gender", "gender", "warn",
                 "性别与公民身份号码中的性别（1 男）不一致：2", id="id_gender-warn"),
    pytest.param("person", {"phone": "12345"}, "pattern", "phone", "warn", "联系电话格式不符合规则", id="pattern-warn"),
    pytest.param("legal_entity", {"uscc": "91430902000000011X"}, "gb32100", "uscc", "error",
                 "统一社会信用代码", id="gb32100"),
    pytest.param("legal_entity", {"entity_type": "92"}, "uscc_entity_type", "entity_type", "warn",
                 "机构类型与统一社会信用代码的登记管理部门码和机构类别码（91）不一致：92", id="uscc_entity_type-warn"),
    pytest.param("legal_entity", {"registered_capital": "-5"}, "range", "registered_capital", "error",
                 "注册资本（万元）超出取值范围[0, 100000000]：-5", id="range-decimal"),
    pytest.param("legal_entity", {"registered_capital": "abc"}, "type", "registered_capital", "error",
                 "注册资本（万元）不是有效的数值（最多14位整数、4位小数）：abc", id="type-decimal"),
    pytest.param("payment", {"amount": "12.345"}, "type", "amount", "error", "金额（元）不是有效的数值",
                 id="type-decimal-scale"),
    pytest.param("payment", {"paid_at": "2025-01-02 00:00:01"}, "not_future", "paid_at", "error",
                 "缴款时间晚于当前日期", id="not_future-timestamp"),
    pytest.param("payment", {"payer_id": person_id(99)}, "references", "payer_id", "error",
                 "缴款人证件号在关联资源（person.id_number）中不存在", id="references"),
    pytest.param("credit_record", {"valid_to": "2023-12-31"}, "not_before_field", "valid_to", "error",
                 "有效期至早于有效期自（2024-01-01）：2023-12-31", id="not_before_field"),
]  # fmt: skip


@pytest.mark.parametrize(("resource", "override", "rule", "field", "severity", "message"), FAILURES)
def test_rule_fails_with_its_reason(resource, override, rule, field, severity, message, contracts, references):
    contract = contracts[resource]
    rows = good_rows(resource)
    rows[0].update(override)
    verdict = validate(as_table(rows, contract), contract, references=references, today=TODAY)

    target = verdict.rejected if severity == "error" else verdict.warned
    assert target.num_rows == 1
    reasons = target.column("reasons")[0].as_py()
    match = [r for r in reasons if (r["rule"], r["field"], r["severity"]) == (rule, field, severity)]
    assert match, reasons
    assert message in match[0]["message"]
    assert verdict.counts["accepted"] == (2 if severity == "error" else 3)
    assert verdict.findings.failed[(rule, field, severity, match[0]["dimension"])] == 1


def test_type_failure_keeps_raw_value_in_record(contracts):
    contract = contracts["person"]
    rows = good_rows("person")
    rows[1]["birth_date"] = "1990-02-30"
    verdict = validate(as_table(rows, contract), contract, today=TODAY)
    record = json.loads(verdict.rejected.column("record")[0].as_py())
    assert record["birth_date"] == "1990-02-30"
    assert record["id_number"] == rows[1]["id_number"]
    assert set(contract.field_names) <= set(record)
    reason = verdict.rejected.column("reasons")[0].as_py()[0]
    assert (reason["rule"], reason["value"], reason["dimension"]) == ("type", "1990-02-30", "conformance")


def test_several_failures_list_every_reason(contracts):
    contract = contracts["person"]
    rows = good_rows("person")
    rows[0].update(name=None, ethnicity="99", household_number="1", phone="x")
    verdict = validate(as_table(rows, contract), contract, today=TODAY)
    reasons = verdict.rejected.column("reasons")[0].as_py()
    assert [(r["rule"], r["field"], r["severity"]) for r in reasons] == [
        ("required", "name", "error"),
        ("enum", "ethnicity", "error"),
        ("pattern", "household_number", "error"),
        ("pattern", "phone", "warn"),
    ]
    assert verdict.warned.num_rows == 0  # a rejected row is not also listed as warned


def test_warn_is_accepted_error_is_rejected_and_counts_reconcile(contracts):
    contract = contracts["person"]
    rows = good_rows("person", 6)
    rows[0]["phone"] = "123"  # warn
    rows[1]["gender"] = "2"  # warn (ID says male)
    rows[2]["ethnicity"] = "00"  # error
    rows[3]["birth_date"] = "abc"  # error
    verdict = validate(as_table(rows, contract), contract, today=TODAY)
    assert verdict.counts == {"rows": 6, "accepted": 4, "rejected": 2, "warned": 2}
    assert verdict.counts["rows"] == verdict.counts["accepted"] + verdict.counts["rejected"]
    assert set(verdict.warned.column("row_key").to_pylist()) == {rows[0]["id_number"], rows[1]["id_number"]}
    assert set(verdict.rejected.column("row_key").to_pylist()) == {rows[2]["id_number"], rows[3]["id_number"]}
    assert set(verdict.accepted.column("id_number").to_pylist()) == {r["id_number"] for r in rows} - {
        rows[2]["id_number"],
        rows[3]["id_number"],
    }
    f = verdict.findings
    assert f.failures["conformance"] == 3  # pattern(phone) + enum + type
    assert f.evaluated["completeness"] == 6 * sum(fl.required for fl in contract.fields)
