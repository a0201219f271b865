"""Shared builders for the verification tests: tiny curated tables, a served hub, clients with known keys.

Imported by the test_verify_* modules and tests/web/test_verify_api.py (this module holds no tests).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

import exchange.log  # noqa: F401  (registers the exchange-log tables on Base.metadata)
from catalog import Base
from exchange.crypto import Signer, load_or_create_signer
from exchange.verify import (
    ServingStore,
    VerificationService,
    refresh_serving_store,
    register_client,
)
from lake import Lake
from quality.codes import make_id_number, make_uscc
from schemas import Contract, arrow_schema, load_contract

TODAY = dt.date(2026, 5, 1)
UTC = dt.UTC

# persons
P_ZHANG = make_id_number("430902", dt.date(1980, 5, 1), 11)  # alive, 资阳区, household 1
P_LI = make_id_number("430902", dt.date(2010, 5, 2), 22)  # alive, same household, under 16 on TODAY
P_WANG = make_id_number("430903", dt.date(1940, 1, 1), 31)  # deceased
P_ZHAO = make_id_number("430921", dt.date(1990, 7, 7), 41)  # moved out (迁出)
P_UNKNOWN = make_id_number("430902", dt.date(1985, 1, 1), 51)  # valid ID, not in the registry
# legal entities
E_SHOP = make_uscc("9", "1", "430902", "MA4L0001")  # 存续, legal rep 张三
E_REVOKED = make_uscc("9", "1", "430903", "MA4L0002")  # 吊销, black-listed
E_UNKNOWN = make_uscc("9", "1", "430902", "MA4L0003")
PERMIT_NO = "益烟专许〔2021〕第001号"
PAY_OK = "43090026030100000001"
PAY_REFUNDED = "43090026030100000002"
FEE_ITEM = "103001"


def _fill(contract: Contract, records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows of `contract` from partial records: required fields missing from a record get a plain default."""
    schema = arrow_schema(contract)
    defaults: dict[str, Any] = {}
    for f in schema:
        t = f.type
        if pa.types.is_string(t):
            defaults[f.name] = "测试值"
        elif pa.types.is_decimal(t):
            defaults[f.name] = decimal.Decimal("1.00")
        elif pa.types.is_date(t):
            defaults[f.name] = dt.date(2020, 1, 1)
        elif pa.types.is_timestamp(t):
            defaults[f.name] = dt.datetime(2026, 1, 1, tzinfo=UTC)
        else:
            defaults[f.name] = None
    columns = {f.name: [r.get(f.name, defaults[f.name] if not f.nullable else None) for r in records] for f in schema}
    return pa.table({k: pa.array(v, schema.field(k).type) for k, v in columns.items()}, schema=schema)


PERSONS = [
    dict(
        id_number=P_ZHANG,
        name="张三",
        birth_date=dt.date(1980, 5, 1),
        region_code="430902",
        household_number="000000001",
        status="1",
    ),
    dict(
        id_number=P_LI,
        name="李四",
        birth_date=dt.date(2010, 5, 2),
        region_code="430902",
        household_number="000000001",
        status="1",
    ),
    dict(
        id_number=P_WANG,
        name="王五",
        birth_date=dt.date(1940, 1, 1),
        region_code="430903",
        household_number="000000002",
        status="3",
    ),
    dict(
        id_number=P_ZHAO,
        name="赵六",
        birth_date=dt.date(1990, 7, 7),
        region_code="430921",
        household_number="000000001",
        status="2",
    ),
]
ENTITIES = [
    dict(
        uscc=E_SHOP,
        name="益阳市资阳区张三商行",
        entity_type="91",
        legal_rep_name="张三",
        legal_rep_id=P_ZHANG,
        region_code="430902",
        established_date=dt.date(2015, 3, 1),
        status="1",
        registered_capital=decimal.Decimal("50.0000"),
    ),
    dict(
        uscc=E_REVOKED,
        name="益阳市赫山区某某贸易有限公司",
        entity_type="91",
        legal_rep_name="王五",
        legal_rep_id=P_WANG,
        region_code="430903",
        established_date=dt.date(2009, 1, 1),
        status="3",
    ),
]
CREDIT = [
    dict(
        record_id="BLK000000000001",
        record_type="black",
        subject_type="legal",
        subject_code=E_REVOKED,
        decision_date=dt.date(2024, 1, 1),
        valid_from=dt.date(2024, 1, 1),
        valid_to=None,
    ),
    dict(
        record_id="BLK000000000002",
        record_type="black",
        subject_type="legal",
        subject_code=E_SHOP,
        decision_date=dt.date(2018, 1, 1),
        valid_from=dt.date(2018, 1, 1),
        valid_to=dt.date(2019, 12, 31),
    ),
    dict(
        record_id="CF0000000000001",
        record_type="cf",
        subject_type="legal",
        subject_code=E_SHOP,
        decision_date=dt.date(2023, 6, 1),
        valid_from=dt.date(2023, 6, 1),
        valid_to=dt.date(2026, 6, 1),
    ),
    dict(
        record_id="XK0000000000001",
        record_type="xk",
        subject_type="legal",
        subject_code=E_SHOP,
        document_number=PERMIT_NO,
        decision_date=dt.date(2021, 7, 1),
        valid_from=dt.date(2021, 7, 1),
        valid_to=dt.date(2026, 6, 30),
    ),
    dict(
        record_id="BLK000000000003",
        record_type="black",
        subject_type="natural",
        subject_code=P_WANG,
        decision_date=dt.date(2025, 1, 1),
        valid_from=dt.date(2025, 1, 1),
        valid_to=None,
    ),
]
PAYMENTS = [
    dict(
        payment_code=PAY_OK,
        payer_id=P_ZHANG,
        payer_name="张三",
        amount=decimal.Decimal("120.00"),
        status="1",
        receipt_code="43000026",
        receipt_number="0000000001",
        item_code=FEE_ITEM,
        fiscal_region="430900",
        paid_at=dt.datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
        channel="3",
        collector_code="430900001",
        settlement_date=dt.date(2026, 3, 1),
    ),
    dict(
        payment_code=PAY_REFUNDED,
        payer_id=P_ZHAO,
        payer_name="赵六",
        amount=decimal.Decimal("80.00"),
        status="2",
        receipt_code="43000026",
        receipt_number="0000000002",
        item_code=FEE_ITEM,
        fiscal_region="430900",
        paid_at=dt.datetime(2026, 2, 1, 2, 0, tzinfo=UTC),
        channel="1",
        collector_code="430900001",
        settlement_date=dt.date(2026, 2, 1),
    ),
]
RECORDS = {"person": PERSONS, "legal_entity": ENTITIES, "credit_record": CREDIT, "payment": PAYMENTS}


def commit_tables(
    lake: Lake, records: Mapping[str, Sequence[Mapping[str, Any]]] = RECORDS, *, run_seq: int = 1
) -> None:
    """Commit the records of each resource to its curated table (one version per call and resource)."""
    for resource, rows in records.items():
        contract = load_contract(resource)
        lake.curated(contract).commit(_fill(contract, rows), app_id=f"test:{resource}", run_seq=run_seq, metadata={})


def make_engine(path: Path) -> sa.Engine:
    """A SQLite metadata store with every hub table (create_all: the migration chain is tested apart)."""
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    Base.metadata.create_all(engine)
    return engine


@dataclass
class ServedHub:
    home: Path
    lake: Lake
    engine: sa.Engine
    signer: Signer
    service: VerificationService
    keys: dict[str, str]


def build_hub(home: Path, *, algorithm: str = "ed25519", rate_limit: int = 10_000) -> ServedHub:
    """Tiny curated tables, their serving stores, a metadata store, clients 'all', 'narrow', 'slow', a service."""
    lake = Lake(str(home / "lake"))
    commit_tables(lake)
    for resource in RECORDS:
        refresh_serving_store(lake, load_contract(resource), home=home)
    engine = make_engine(home / "govhub.db")
    signer = load_or_create_signer(home / "keys", algorithm=algorithm)  # type: ignore[arg-type]
    service = VerificationService(store=ServingStore(home), signer=signer, engine=engine, today=lambda: TODAY)
    keys = {}
    with Session(engine) as session:
        everything = list(service.items)
        for client_id, name, allowed, limit in (
            ("all", "全部事项测试系统", everything, rate_limit),
            ("narrow", "窄授权测试系统", ["identity_matches"], rate_limit),
            ("slow", "限速测试系统", everything, 3),
        ):
            _, keys[client_id] = register_client(
                session, client_id=client_id, name=name, allowed_items=allowed, rate_limit_per_minute=limit
            )
        session.commit()
    return ServedHub(home, lake, engine, signer, service, keys)


def body(subject: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None, **extra: Any) -> dict:
    """A request body with a case number and purpose."""
    out: dict[str, Any] = {"case_number": "YY-BDC-2026-000123", "purpose": "不动产登记（转移登记）", "subject": subject}
    if params is not None:
        out["params"] = params
    out.update(extra)
    return out
