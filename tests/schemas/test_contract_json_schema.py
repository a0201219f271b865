"""The committed contract JSON Schema is current, and it accepts every shipped contract."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from schemas import CONTRACTS_DIR
from schemas.spec import JSON_SCHEMA_FILE, contract_json_schema


def test_committed_json_schema_is_current() -> None:
    committed = json.loads(JSON_SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == contract_json_schema(), "schemas/contract.schema.json is stale: run `python -m schemas`"


@pytest.mark.parametrize("resource", ["person", "legal_entity", "payment", "credit_record"])
def test_json_schema_accepts_the_shipped_contracts(resource: str) -> None:
    raw = yaml.safe_load((CONTRACTS_DIR / f"{resource}.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(contract_json_schema()).validate(raw)


def test_json_schema_refuses_an_unknown_key_and_rule() -> None:
    raw = yaml.safe_load((CONTRACTS_DIR / "person.yaml").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(contract_json_schema())
    assert not validator.is_valid({**raw, "owner": "x"})
    raw["fields"][0]["checks"] = ["luhn"]
    assert not validator.is_valid(raw)
