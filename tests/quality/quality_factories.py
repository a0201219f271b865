"""Factories for the quality tests: valid rows per resource (as a CSV gives them) and Arrow tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from quality.codes import make_id_number, make_uscc
from schemas import Contract

TODAY = dt.date(2025, 1, 1)
UPDATED = "2024-12-31 10:00:00"


def person_id(i: int) -> str:
    """A valid citizen ID: a man (odd sequence) born 1990-05-17 in 资阳区."""
    return make_id_number("430902", dt.date(1990, 5, 17), 2 * i + 1)


def entity_uscc(i: int) -> str:
    """A valid USCC of an enterprise (9 1) registered in 资阳区."""
    return make_uscc("9", "1", "430902", f"{i + 1:08d}")


def _person(i: int) -> dict[str, Any]:
    return {
        "id_number": person_id(i),
        "name": "张三",
        "gender": "1",
        "ethnicity": "01",
        "birth_date": "1990-05-17",
        "birth_place": "湖南省益阳市资阳区",
        "household_address": "益阳市资阳区建设路1号",
        "region_code": "430902",
        "household_number": f"{100000000 + i}",
        "phone": "13800138000",
        "status": "1",
        "updated_at": UPDATED,
    }


def _legal_entity(i: int) -> dict[str, Any]:
    return {
        "uscc": entity_uscc(i),
        "name": "益阳市资江食品有限公司",
        "entity_type": "91",
        "legal_rep_name": "张三",
        "legal_rep_id": person_id(i),
        "address": "益阳市资阳区建设路1号",
        "region_code": "430902",
        "registration_authority": "益阳市市场监督管理局",
        "established_date": "2010-01-01",
        "business_scope": "食品加工",
        "registered_capital": "100.5",
        "status": "1",
        "updated_at": UPDATED,
    }


def _payment(i: int) -> dict[str, Any]:
    return {
        "payment_code": f"{i + 1:020d}",
        "collector_code": "430900001",
        "collector_name": "益阳市交通运输局",
        "item_code": "103040",
        "item_name": "罚没收入",
        "fiscal_region": "430900",
        "payer_name": "张三",
        "payer_id": person_id(i),
        "amount": "200.00",
        "late_fee": "",
        "paid_at": "2024-06-01 09:30:00",
        "channel": "3",
        "receipt_code": "43010124",
        "receipt_number": f"{i + 1:010d}",
        "status": "1",
        "settlement_date": "2024-06-02",
    }


def _credit_record(i: int) -> dict[str, Any]:
    return {
        "record_id": f"XK{i + 1:012d}",
        "record_type": "xk",
        "subject_type": "legal",
        "subject_name": "益阳市资江食品有限公司",
        "subject_code": entity_uscc(i),
        "document_number": "益市监许〔2024〕1号",
        "content": "准予食品经营许可",
        "amount": "10.5" if i % 2 == 0 else None,
        "decision_date": "2024-01-01",
        "valid_from": "2024-01-01",
        "valid_to": "2029-01-01",
        "publish_deadline": "2024-07-01",
        "authority_name": "益阳市市场监督管理局",
        "authority_uscc": make_uscc("1", "1", "430900", "00000001"),
        "source_unit": "市市场监管局",
        "updated_at": UPDATED,
    }


_FACTORIES = {"person": _person, "legal_entity": _legal_entity, "payment": _payment, "credit_record": _credit_record}


def good_rows(resource: str, n: int = 3) -> list[dict[str, Any]]:
    """n valid rows of a resource, all strings, distinct keys."""
    return [_FACTORIES[resource](i) for i in range(n)]


def reference_values() -> dict[str, pa.Array]:
    """Reference values covering every good row's foreign keys (person IDs, entity USCCs)."""
    return {
        "person.id_number": pa.array([person_id(i) for i in range(20)]),
        "legal_entity.uscc": pa.array([entity_uscc(i) for i in range(20)]),
    }


def as_table(rows: list[dict[str, Any]], contract: Contract, **system: list[Any]) -> pa.Table:
    """Rows as an all-string Arrow table in contract field order, plus optional system columns."""
    columns: dict[str, pa.Array] = {
        name: pa.array([r.get(name) for r in rows], pa.string()) for name in contract.field_names
    }
    for name, values in system.items():
        columns[name] = pa.array(values)
    return pa.table(columns)
