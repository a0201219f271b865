"""The shipped contracts load, and a broken contract fails naming its file and field."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from schemas import CONTRACTS_DIR, ContractError, arrow_schema, load_all, load_contract, load_file

RESOURCES = ["person", "legal_entity", "credit_record", "payment"]


def test_every_resource_has_a_contract() -> None:
    assert sorted(load_all()) == sorted(RESOURCES)


@pytest.mark.parametrize("resource", RESOURCES)
def test_contract_carries_catalogue_metadata(resource: str) -> None:
    contract = load_contract(resource)
    assert contract.primary_key and all(key in contract.field_names for key in contract.primary_key)
    assert contract.provider["name"].startswith("市")
    assert contract.sharing["type"] in ("无条件共享", "有条件共享", "不予共享")
    assert contract.classification["code"].isdigit()
    assert contract.update_cycle_days is not None
    for field in contract.fields:
        assert field.label and field.pii in ("none", "personal", "identifier", "sensitive")


@pytest.mark.parametrize("resource", RESOURCES)
def test_arrow_schema_follows_the_contract(resource: str) -> None:
    contract = load_contract(resource)
    schema = arrow_schema(contract)
    assert schema.names == contract.field_names
    for field in contract.fields:
        arrow_field = schema.field(field.name)
        assert arrow_field.nullable is not field.required
        assert arrow_field.metadata[b"label"].decode() == field.label


def test_decimal_and_temporal_types() -> None:
    schema = arrow_schema(load_contract("payment"))
    assert schema.field("amount").type == pa.decimal128(18, 2)
    assert schema.field("paid_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("settlement_date").type == pa.date32()


def test_cursor_and_sharing_derived() -> None:
    person = load_contract("person")
    assert person.source.cursor == "updated_at"
    assert person.source.deleted_flag == "is_deleted"
    assert person.sharing_type == "conditional"
    assert load_contract("payment").source.cursor is None


def test_unknown_resource_lists_known_ones() -> None:
    with pytest.raises(ContractError, match=r"known resources: .*person"):
        load_contract("people")


def _broken(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load((CONTRACTS_DIR / "person.yaml").read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "person.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _field(raw: dict, name: str) -> dict:
    return next(f for f in raw["fields"] if f["name"] == name)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            lambda r: _field(r, "name").update(type="varchar"),
            r"field 'name': unknown type 'varchar'",
            id="unknown-type",
        ),
        pytest.param(
            lambda r: _field(r, "id_number").update(checks=["luhn"]),
            r"field 'id_number': unknown check rule 'luhn'",
            id="unknown-check",
        ),
        pytest.param(
            lambda r: r["fields"].append(dict(_field(r, "name"))),
            r"field 'name': duplicate field",
            id="duplicate-field",
        ),
        pytest.param(
            lambda r: r.update(primary_key="citizen_id"),
            r"field 'citizen_id': primary key names a field",
            id="missing-key-field",
        ),
        pytest.param(lambda r: r.pop("primary_key"), r"missing required key 'primary_key'", id="no-primary-key"),
        pytest.param(
            lambda r: _field(r, "gender").update(checks=[{"rule": "enum", "table": "sex"}]),
            r"field 'gender': check 'enum' names code table 'sex'",
            id="unknown-code-table",
        ),
        pytest.param(
            lambda r: _field(r, "name").update(checks=[{"rule": "length", "longest": 3}]),
            r"field 'name': check 'length': .*unknown parameter\(s\) \['longest'\]",
            id="bad-parameter",
        ),
        pytest.param(
            lambda r: _field(r, "name").update(checks=[{"rule": "pattern", "regex": "(["}]),
            r"field 'name': check 'pattern' has an invalid regex",
            id="bad-regex",
        ),
        pytest.param(
            lambda r: _field(r, "name").pop("label"), r"field 'name': every field needs a Chinese label", id="no-label"
        ),
        pytest.param(
            lambda r: _field(r, "phone").update(pii="secret"), r"field 'phone': pii must be one of", id="bad-pii"
        ),
        pytest.param(lambda r: r["sharing"].update(type="随便共享"), r"sharing.type must be one of", id="bad-sharing"),
        pytest.param(
            lambda r: r["source"].update(cursor="modified"), r"field 'modified': source.cursor", id="bad-cursor"
        ),
        pytest.param(lambda r: r.update(schema_drift="ignore"), r"schema_drift must be one of", id="bad-drift"),
        pytest.param(lambda r: r["provider"].update(phone="1"), r"unknown key 'provider.phone'", id="nested-key"),
        pytest.param(lambda r: r["dataset"].update(max_rows=9), r"unknown key 'dataset.max_rows'", id="dataset-key"),
        pytest.param(lambda r: r.update(owner="x"), r"unknown key 'owner'", id="top-level-key"),
        pytest.param(
            lambda r: _field(r, "name").update(checks=[{"rule": "length", "max": "long"}]),
            r"field 'name': check 'length': max: Input should be a valid integer",
            id="parameter-type",
        ),
        pytest.param(
            lambda r: _field(r, "name").update(checks=[{"rule": "length", "max": 3, "severity": "fatal"}]),
            r"field 'name': check 'length': severity",
            id="bad-severity",
        ),
        pytest.param(
            lambda r: _field(r, "phone").update(colour="red"), r"field 'phone': unknown key 'colour'", id="field-key"
        ),
        pytest.param(lambda r: r.update(pending_grace=0), r"pending_grace must be a whole number", id="no-grace"),
        pytest.param(lambda r: r.update(pending_grace="3d"), r"pending_grace must be a whole number", id="grace-text"),
    ],
)
def test_broken_contract_names_file_and_field(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    path = _broken(tmp_path, mutate)
    with pytest.raises(ContractError, match=r"^person\.yaml.*" + message):
        load_file(path)


def test_references_must_point_at_known_fields(tmp_path: Path) -> None:
    for resource in RESOURCES:
        (tmp_path / f"{resource}.yaml").write_text(
            (CONTRACTS_DIR / f"{resource}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    (tmp_path / "systems.yaml").write_text((CONTRACTS_DIR / "systems.yaml").read_text(encoding="utf-8"), "utf-8")
    raw = yaml.safe_load((tmp_path / "payment.yaml").read_text(encoding="utf-8"))
    _field(raw, "payer_id")["checks"][1]["targets"] = ["person.citizen_id"]
    (tmp_path / "payment.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContractError, match=r"payment\.yaml, field 'payer_id': references unknown target"):
        load_all(tmp_path)


def test_references_and_grace_derived(tmp_path: Path) -> None:
    contracts = load_all()
    assert contracts["credit_record"].referenced_resources == ("legal_entity", "person")
    assert contracts["person"].referenced_resources == ()
    assert all(c.pending_grace == 3 for c in contracts.values())  # the default: three referenced versions
    assert load_file(_broken(tmp_path, lambda r: r.update(pending_grace=5))).pending_grace == 5


def test_dependents_follow_the_references() -> None:
    from schemas import dependents

    assert dependents("person") == ["legal_entity", "credit_record", "payment"]
    assert dependents("legal_entity") == ["credit_record"]
    assert dependents("credit_record") == []


def test_contracts_read_alike_with_libyaml_and_pure_python_parsers():
    """The loader takes libyaml's parser when PyYAML has it: every shipped file must read the same."""
    from schemas.loader import _SAFE_LOADER

    for path in sorted(CONTRACTS_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=_SAFE_LOADER) == yaml.safe_load(text), path.name
