"""The DCAT JSON-LD export: catalogue shape, one dataset per resource, valid context."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from catalog import Resource, catalogue_dcat, record_version

BASE = "https://govhub.yiyang.example/"


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


@pytest.fixture
def document(session: Session) -> dict[str, Any]:
    record_version(
        session,
        resource="person",
        version=1,
        run_id="r1",
        schema_fingerprint="f",
        committed_at=datetime(2026, 3, 1, 20, 0, tzinfo=UTC),  # 2026-03-02 04:00 in Beijing
    )
    session.flush()
    return catalogue_dcat(session, base_url=BASE)


def test_catalogue_holds_one_dataset_per_resource(session: Session, document: dict[str, Any]) -> None:
    assert document["@type"] == "dcat:Catalog"
    assert document["@id"] == "https://govhub.yiyang.example/api/catalog/dcat.jsonld"
    codes = [d["dct:identifier"] for d in document["dcat:dataset"]]
    assert codes == sorted(r.code for r in session.query(Resource))
    json.dumps(document, ensure_ascii=False)  # serialisable as is


def test_dataset_carries_the_core_metadata(document: dict[str, Any]) -> None:
    person = next(d for d in document["dcat:dataset"] if d["dct:identifier"] == "101001001")
    assert person["@type"] == "dcat:Dataset"
    assert person["@id"] == "https://govhub.yiyang.example/api/catalog/resources/101001001"
    assert {"@value": "人口基础信息", "@language": "zh"} in person["dct:title"]
    assert {"@value": "Population base information", "@language": "en"} in person["dct:title"]
    assert person["dct:publisher"]["dct:identifier"] == "11430900006012344E"
    assert person["dct:accrualPeriodicity"]["@id"].endswith("/frequency/DAILY")
    assert {"@value": "公民身份号码", "@language": "zh"} in person["dcat:keyword"]
    assert {d["dct:format"] for d in person["dcat:distribution"]} == {"Delta/Parquet", "JSON"}
    assert person["dct:issued"] == {"@value": "2026-03-02", "@type": "xsd:date"}  # the Beijing date
    columns = person["csvw:tableSchema"]["csvw:column"]
    id_number = next(c for c in columns if c["csvw:name"] == "id_number")
    assert id_number["csvw:datatype"] == {"@id": "xsd:string"}
    assert id_number["govhub:pii"] == "identifier"
    assert person["csvw:tableSchema"]["csvw:primaryKey"] == ["id_number"]
    credit = next(d for d in document["dcat:dataset"] if d["dct:identifier"] == "104001001")
    assert credit["dct:accrualPeriodicity"]["@id"].endswith("/frequency/CONT")
    assert "dct:issued" not in credit  # never published yet


def test_every_prefix_used_is_declared_in_the_context(document: dict[str, Any]) -> None:
    context = document["@context"]
    assert all(re.match(r"^(https?://|urn:)", iri) for iri in context.values())
    prefixes = {key.split(":")[0] for key in _keys(document) if ":" in key and not key.startswith("@")}
    assert prefixes <= set(context), prefixes - set(context)


def test_expands_as_json_ld(document: dict[str, Any]) -> None:
    jsonld = pytest.importorskip("pyld.jsonld", reason="pyld not installed: JSON-LD expansion not checked")
    expanded = jsonld.expand(document)
    catalog = expanded[0]
    assert catalog["@type"] == ["http://www.w3.org/ns/dcat#Catalog"]
    assert len(catalog["http://www.w3.org/ns/dcat#dataset"]) == 4
