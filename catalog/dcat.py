"""The catalogue as DCAT (W3C Data Catalog Vocabulary) JSON-LD, for harvesting by other platforms."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from catalog.resources import Resource, release_date
from core.time import BEIJING

__all__ = ["DCAT_CONTEXT", "FREQUENCIES", "catalogue_dcat", "resource_dcat"]

DCAT_CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "csvw": "http://www.w3.org/ns/csvw#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "govhub": "urn:govhub:",
}
_FREQ = "http://publications.europa.eu/resource/authority/frequency/"
# update cycle (GB/T 21063 更新周期) -> EU frequency authority table (dct:accrualPeriodicity)
FREQUENCIES: dict[str, str] = {
    "实时": _FREQ + "CONT",
    "日": _FREQ + "DAILY",
    "周": _FREQ + "WEEKLY",
    "月": _FREQ + "MONTHLY",
    "季": _FREQ + "QUARTERLY",
    "半年": _FREQ + "ANNUAL_2",
    "年": _FREQ + "ANNUAL",
    "其他": _FREQ + "OTHER",
}
_XSD_TYPES = {
    "string": "xsd:string",
    "integer": "xsd:integer",
    "float": "xsd:double",
    "decimal": "xsd:decimal",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "timestamp": "xsd:dateTime",
}


def catalogue_dcat(session: Session, *, base_url: str) -> dict[str, Any]:
    """The whole catalogue as one JSON-LD document: a dcat:Catalog with one dcat:Dataset per resource.

    `base_url` is where the hub's API is reachable (e.g. https://govhub.yiyang.gov.cn); dataset
    and distribution IRIs hang off it. Each dataset's dct:identifier is the resource code, its data
    items are a csvw:tableSchema (name, zh/en titles, XSD datatype, required, PII class).
    """
    base = base_url.rstrip("/")
    resources = session.scalars(select(Resource).options(selectinload(Resource.items)).order_by(Resource.code))
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{base}/api/catalog/dcat.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": [_zh("益阳市政务信息资源目录"), _en("Yiyang government information resource catalogue")],
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": [_zh("益阳市政务数据共享交换平台")]},
        "dct:conformsTo": {"@id": "urn:std:GB/T 21063"},
        "dcat:dataset": [resource_dcat(session, entry, base_url=base) for entry in resources],
    }


def resource_dcat(session: Session, entry: Resource, *, base_url: str) -> dict[str, Any]:
    """One resource as a dcat:Dataset node."""
    base = base_url.rstrip("/")
    iri = f"{base}/api/catalog/resources/{entry.code}"
    released = release_date(session, entry)
    dataset: dict[str, Any] = {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": entry.code,
        "dct:title": [_zh(entry.name), _en(entry.name_en)],
        "dct:description": [_zh(entry.abstract)],
        "dct:publisher": {
            "@id": f"urn:uscc:{entry.provider_code}",
            "@type": "foaf:Organization",
            "dct:identifier": entry.provider_code,
            "foaf:name": [_zh(entry.provider_name)],
        },
        "dct:accrualPeriodicity": {"@id": FREQUENCIES.get(entry.update_cycle, _FREQ + "OTHER")},
        "dcat:keyword": _keywords(entry),
        "dcat:theme": [_zh(label) for label in _classification_labels(entry)],
        "dct:accessRights": [
            _zh(f"{entry.sharing_type}{'：' + entry.sharing_condition if entry.sharing_condition else ''}")
        ],
        "dct:relation": [{"@id": f"{base}/api/catalog/resources/{code}"} for code in entry.related],
        "govhub:classificationCode": entry.classification_code,
        "govhub:sharingType": entry.sharing_type,
        "govhub:sharingMethod": entry.sharing_method,
        "govhub:openToPublic": {"@value": entry.open_to_public, "@type": "xsd:boolean"},
        "govhub:updateCycle": entry.update_cycle,
        "dcat:distribution": [
            {
                "@id": f"{iri}#delta",
                "@type": "dcat:Distribution",
                "dct:title": [_zh("Delta 表（Parquet）"), _en("Delta table (Parquet)")],
                "dct:format": "Delta/Parquet",
                "dcat:mediaType": "application/vnd.apache.parquet",
                "dcat:accessURL": {"@id": iri},
            },
            {
                "@id": f"{iri}#api",
                "@type": "dcat:Distribution",
                "dct:title": [_zh("接口（JSON）"), _en("API (JSON)")],
                "dct:format": "JSON",
                "dcat:mediaType": "application/json",
                "dcat:accessURL": {"@id": iri},
            },
        ],
        "csvw:tableSchema": {
            "csvw:primaryKey": list(entry.primary_key),
            "csvw:column": [
                {
                    "csvw:name": item.name,
                    "csvw:title": [_zh(item.label), _en(item.label_en)],
                    "csvw:datatype": {"@id": _XSD_TYPES[item.type.split("(")[0]]},
                    "csvw:required": {"@value": item.required, "@type": "xsd:boolean"},
                    "govhub:pii": item.pii,
                    "govhub:type": item.type,
                }
                for item in entry.items
            ],
        },
    }
    if released is not None:
        aware = released if released.tzinfo else released.replace(tzinfo=UTC)  # SQLite: naive UTC
        day = aware.astimezone(BEIJING).date()  # the civil date in Yiyang, not in UTC
        dataset["dct:issued"] = {"@value": day.isoformat(), "@type": "xsd:date"}
    return dataset


def _keywords(entry: Resource) -> list[dict[str, str]]:
    words = [*_classification_labels(entry), *(item.label for item in entry.items)]
    return [_zh(word) for word in dict.fromkeys(words)]


def _classification_labels(entry: Resource) -> list[str]:
    return [entry.classification[key] for key in ("class", "item", "category") if entry.classification.get(key)]


def _zh(text: str) -> dict[str, str]:
    return {"@value": text, "@language": "zh"}


def _en(text: str) -> dict[str, str]:
    return {"@value": text, "@language": "en"}
