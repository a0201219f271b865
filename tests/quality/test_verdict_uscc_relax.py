"""A contract relaxes a GB 32100 sub-check (`relax: {check_char: warn}`): the row is accepted with a
warning naming the field and the sub-check, or (`off`) not checked at all; everything else still rejects."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from quality_factories import TODAY, as_table, good_rows, reference_values

from quality import validate
from quality.codes import make_uscc
from schemas import CONTRACTS_DIR, ContractError, parse_contract

PILOT = "91350100M0001TGQXM"  # legally issued in an early pilot region; fails only the mod-31 check
LAW_FIRM_BAD_TYPE = make_uscc("3", "6", "430902", "31430001")  # 司法行政 has no type 6


def _legal_entity(relax: dict | None):
    raw = yaml.safe_load(Path(CONTRACTS_DIR, "legal_entity.yaml").read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    uscc = next(f for f in raw["fields"] if f["name"] == "uscc")
    uscc["checks"] = [{"rule": "gb32100", **({"relax": relax} if relax is not None else {})}]
    return parse_contract(raw, file="legal_entity.yaml")


def _verdict(contract, codes: list[str]):
    rows = good_rows("legal_entity", len(codes) + 1)
    for row, code in zip(rows, codes, strict=False):
        known = code[:2] in contract.code_tables["entity_type"].codes
        row["uscc"], row["entity_type"] = code, code[:2] if known else "31"  # 律师执业机构 for the 36 law firm
    return rows, validate(as_table(rows, contract), contract, references=reference_values(), today=TODAY)


def _reasons(table, key: str) -> list[dict]:
    return next(r["reasons"] for r in table.to_pylist() if r["row_key"] == key)


def test_without_relax_a_pilot_code_is_rejected():
    _, verdict = _verdict(_legal_entity(None), [PILOT])
    (reason,) = _reasons(verdict.rejected, PILOT)
    assert (reason["rule"], reason["field"], reason["severity"]) == ("gb32100", "uscc", "error")
    assert reason["message"] == f"统一社会信用代码校验码错误：{PILOT}"


def test_check_char_relaxed_to_a_warning_accepts_the_row_and_says_so():
    rows, verdict = _verdict(_legal_entity({"check_char": "warn"}), [PILOT, LAW_FIRM_BAD_TYPE])
    assert PILOT in verdict.accepted.column("uscc").to_pylist()
    (reason,) = _reasons(verdict.warned, PILOT)
    assert (reason["rule"], reason["field"], reason["severity"], reason["value"]) == (
        "gb32100",
        "uscc",
        "warn",
        PILOT,
    )
    assert reason["message"].startswith(
        f"统一社会信用代码校验码错误（数据契约将此项放宽为警告，记录已接收）：{PILOT} / "
    )
    assert "sub-check 'check_char'" in reason["message"]
    # the sub-checks not relaxed still reject
    assert [r["message"] for r in _reasons(verdict.rejected, LAW_FIRM_BAD_TYPE) if r["field"] == "uscc"] == [
        f"统一社会信用代码登记管理部门码和机构类别码无效：{LAW_FIRM_BAD_TYPE}"
    ]
    assert verdict.counts == {"rows": len(rows), "accepted": len(rows) - 1, "rejected": 1, "warned": 1}
    assert verdict.findings.failed[("gb32100", "uscc", "warn", "accuracy")] == 1
    assert verdict.findings.failed[("gb32100", "uscc", "error", "accuracy")] == 1


def test_authority_type_relaxed_off_is_not_checked():
    _, verdict = _verdict(_legal_entity({"authority_type": "off"}), [LAW_FIRM_BAD_TYPE, PILOT])
    accepted = verdict.accepted.column("uscc").to_pylist()
    assert LAW_FIRM_BAD_TYPE in accepted and PILOT not in accepted
    assert verdict.counts["rejected"] == 1
    # the code now counts as valid, so the entity type is compared with it (and differs: 31 vs 36)
    (warning,) = _reasons(verdict.warned, LAW_FIRM_BAD_TYPE)
    assert (warning["rule"], warning["field"]) == ("uscc_entity_type", "entity_type")


def test_a_rejected_row_is_not_also_warned():
    bad_both = make_uscc("3", "6", "430902", "31430001")[:17] + "0"  # bad pair and bad check character
    bad_both = bad_both if bad_both != LAW_FIRM_BAD_TYPE else bad_both[:17] + "1"
    _, verdict = _verdict(_legal_entity({"check_char": "warn"}), [bad_both])
    reasons = _reasons(verdict.rejected, bad_both)
    assert [r["rule"] + ":" + r["severity"] for r in reasons if r["field"] == "uscc"] == ["gb32100:error"]
    assert verdict.warned.num_rows == 0


@pytest.mark.parametrize(
    ("relax", "match"),
    [
        pytest.param({"format": "warn"}, r"cannot relax 'format'", id="format-is-not-relaxable"),
        pytest.param({"check_char": "ignore"}, r"cannot relax 'check_char' to 'ignore'", id="unknown-mode"),
        pytest.param(["check_char"], r"relax must map sub-checks", id="a-list"),
    ],
)
def test_a_wrong_relax_fails_at_load_naming_the_field(relax, match):
    with pytest.raises(ContractError, match=match) as caught:
        _legal_entity(relax)
    assert "uscc" in str(caught.value)
