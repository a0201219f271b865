"""A verification request's USCC is judged as the contract judges the data: sub-checks the contract
relaxes (a pilot region's check character) do not refuse the request."""

from __future__ import annotations

import dataclasses

import pytest

from exchange.verify import validate as verify_validate
from schemas import Check, load_contract

PILOT = "91350100M0001TGQXM"


@pytest.mark.parametrize(
    ("relax", "refused"),
    [pytest.param(None, True, id="strict"), pytest.param({"check_char": "warn"}, False, id="relaxed")],
)
def test_relaxed_sub_checks_do_not_refuse_a_request(monkeypatch: pytest.MonkeyPatch, relax, refused) -> None:
    uscc = load_contract("legal_entity").field("uscc")
    check = Check(rule="gb32100", params={"relax": relax} if relax else {}, dimension="accuracy")
    monkeypatch.setattr(verify_validate, "_field", lambda resource, name: dataclasses.replace(uscc, checks=(check,)))
    problem = verify_validate._field_problem("legal_entity", "uscc", PILOT)
    assert (problem is not None) is refused
    if refused:
        assert "(check_char)" in problem
