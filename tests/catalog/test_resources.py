"""Resources from contracts: stable codes, items derived from fields, idempotent refresh, release date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from catalog_factories import variant
from sqlalchemy.orm import Session

from catalog import Resource, ResourceItem, get_resource, record_version, register_contracts, release_date
from catalog.errors import CatalogError
from catalog.resources import field_type_text
from schemas import Contract


def test_each_contract_gets_classification_code_plus_sequence(session: Session) -> None:
    codes = {r.resource: r.code for r in session.query(Resource)}
    assert codes == {
        "person": "101001001",
        "legal_entity": "102001001",
        "credit_record": "104001001",
        "payment": "312001001",
    }


def test_items_are_the_contract_fields_never_retyped(session: Session, contracts: dict[str, Contract]) -> None:
    for name, contract in contracts.items():
        entry = get_resource(session, name)
        assert [i.name for i in entry.items] == contract.field_names
        for item, field in zip(entry.items, contract.fields, strict=True):
            assert (item.label, item.label_en, item.pii, item.required) == (
                field.label,
                field.label_en,
                field.pii,
                field.required,
            )
            assert item.type == field_type_text(field)
            assert item.primary_key == (field.name in contract.primary_key)
    payment_items = {i.name: i for i in get_resource(session, "payment").items}
    assert payment_items["amount"].type.startswith("decimal(")


def test_catalogue_metadata_comes_from_the_contract(session: Session, contracts: dict[str, Contract]) -> None:
    person = get_resource(session, "101001001")
    contract = contracts["person"]
    assert person.name == "人口基础信息" and person.name_en == contract.title_en
    assert person.provider_code == contract.provider["code"] and person.provider_name == "市公安局"
    assert person.sharing_type == "有条件共享" and person.sharing_condition == contract.sharing["condition"]
    assert person.format == "Delta/Parquet; 接口 JSON"
    assert person.update_cycle == "日" and person.open_to_public is False
    assert person.related == ["102001001", "312001001"]  # legal_entity, payment by code
    assert person.source_system == "population"


def test_registering_again_is_idempotent(session: Session) -> None:
    before = {(r.code, r.resource, len(r.items)) for r in session.query(Resource)}
    items = session.query(ResourceItem).count()
    register_contracts(session)
    register_contracts(session)
    assert {(r.code, r.resource, len(r.items)) for r in session.query(Resource)} == before
    assert session.query(ResourceItem).count() == items


def test_codes_are_stable_when_new_contracts_join_and_classifications_change(session: Session) -> None:
    def sibling(raw: dict) -> None:  # a second resource under 人口基本信息, registered later
        raw["resource"] = "person_history"
        raw["title"] = "人口历史信息"
        raw["related"] = []

    def moved(raw: dict) -> None:  # person moves to another classification: its code does not
        raw["classification"] = {**raw["classification"], "category_code": "002", "code": "101002"}

    new = register_contracts(session, [variant("person", sibling)])
    assert new[0].code == "101001002"
    register_contracts(session, [variant("person", moved)])
    assert get_resource(session, "person").code == "101001001"
    assert get_resource(session, "person").classification_code == "101002"
    again = register_contracts(session, [variant("person", sibling)])
    assert again[0].code == "101001002"


def test_items_follow_a_changed_contract(session: Session) -> None:
    def change(raw: dict) -> None:
        raw["fields"] = [f for f in raw["fields"] if f["name"] != "phone"]
        raw["fields"][1]["label"] = "姓名（户籍）"
        raw["fields"].append({"name": "email", "label": "电子邮箱", "type": "string", "pii": "sensitive"})

    register_contracts(session, [variant("person", change)])
    session.flush()
    items = {i.name: i for i in get_resource(session, "person").items}
    assert "phone" not in items
    assert items["name"].label == "姓名（户籍）"
    assert items["email"].pii == "sensitive" and items["email"].position == len(items)
    assert session.query(ResourceItem).filter_by(resource_code="101001001", name="phone").count() == 0


def test_register_accepts_a_mapping_or_an_iterable(session: Session, contracts: dict[str, Contract]) -> None:
    assert [r.resource for r in register_contracts(session, contracts)] == list(contracts)
    assert [r.resource for r in register_contracts(session, contracts.values())] == list(contracts)


def test_release_date_is_the_first_published_version(session: Session) -> None:
    assert release_date(session, "person") is None
    first = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for version, when in ((2, datetime(2026, 3, 3, tzinfo=UTC)), (1, first)):
        record_version(
            session, resource="person", version=version, run_id=f"r{version}", schema_fingerprint="f", committed_at=when
        )
    session.flush()
    assert release_date(session, get_resource(session, "person")).replace(tzinfo=UTC) == first


def test_unknown_resource_lists_the_known_ones(session: Session) -> None:
    with pytest.raises(
        CatalogError, match=r"unknown resource 'people'; known resources: .*101001001 \(person\)"
    ) as info:
        get_resource(session, "people")
    assert info.value.kind == "not_found"
