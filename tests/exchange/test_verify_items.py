"""The verification catalogue: coverage, strict loading against the contracts, what each item discloses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from exchange.verify import ITEMS_FILE, load_items
from exchange.verify.rules import RULES, code_for, region_prefix
from schemas import ContractError, load_all


def test_catalogue_covers_the_four_resources_with_at_least_twelve_items() -> None:
    items = load_items()
    assert len(items) >= 12
    assert {i.resource for i in items.values()} == {"person", "legal_entity", "credit_record", "payment"}
    for item in items.values():
        assert item.name and item.name_en and item.replaces and item.legal_basis, item.code
        assert item.rule in RULES


def test_predicates_disclose_only_match_and_value_items_only_their_fields() -> None:
    items = load_items()
    basic = items["entity_basic_info"].public()
    assert basic["discloses"] == ["name", "status", "established_date"]
    assert items["identity_matches"].public()["discloses"] == ["match"]
    assert "rule" not in basic


def _write(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(ITEMS_FILE.read_text(encoding="utf-8"))
    mutate(raw["items"])
    path = tmp_path / "items.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            lambda items: items[0]["reads"].append("shoe_size"),
            r"item 'identity_matches'.*'reads' names 'shoe_size', which is not a field of the person contract",
            id="unknown-read-field",
        ),
        pytest.param(
            lambda items: items[0]["subject"].append("passport"),
            r"item 'identity_matches'.*'subject' names 'passport'",
            id="unknown-subject-field",
        ),
        pytest.param(
            lambda items: items[4]["params"][0].update(field="cousin_id"),
            r"item 'same_household'.*param 'other_id_number' names 'cousin_id'",
            id="unknown-param-field",
        ),
        pytest.param(
            lambda items: items[0].update(rule="guess"), r"item 'identity_matches'.*unknown rule 'guess'", id="rule"
        ),
        pytest.param(lambda items: items[0].update(resource="tax"), r"unknown resource 'tax'", id="resource"),
        pytest.param(
            lambda items: items.append(dict(items[0])), r"item 'identity_matches' is defined twice", id="duplicate"
        ),
        pytest.param(
            lambda items: items[0].update(discloses="everything"),
            r"item 'identity_matches'.*'discloses'",
            id="disclose",
        ),
        pytest.param(lambda items: items[0].update(owner="x"), r"item 'identity_matches'.*'owner'", id="unknown-key"),
        pytest.param(
            lambda items: items[4]["params"][0].update(colour="red"),
            r"item 'same_household'.*'params.0.colour'",
            id="unknown-param-key",
        ),
        pytest.param(
            lambda items: items[4]["params"][0].update(type="list"),
            r"item 'same_household'.*'params.0.type'",
            id="param-type",
        ),
    ],
)
def test_loading_fails_naming_the_item_and_field(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ContractError, match=message):
        load_items(_write(tmp_path, mutate), contracts=load_all())


def test_codes_come_from_the_contract_code_tables() -> None:
    assert code_for("person", "person_status", "死亡") == "3"
    assert code_for("credit_record", "record_type", "失信黑名单") == "black"
    with pytest.raises(KeyError, match="no code labelled"):
        code_for("person", "person_status", "失踪")


@pytest.mark.parametrize(("code", "prefix"), [("430000", "43"), ("430900", "4309"), ("430902", "430902")])
def test_region_prefix(code: str, prefix: str) -> None:
    assert region_prefix(code) == prefix
