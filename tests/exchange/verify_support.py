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


def _person(id_number: str, name: str, born: dt.date, region: str, household: str, status: str) -> dict[str, Any]:
    return dict(
        id_number=id_number, name=name, birth_date=born, region_code=region, household_number=household, status=status
    )


def _credit(
    record_id: str, kind: str, subject: str, code: str, since: dt.date, until: dt.date | None, **more: Any
) -> dict:
    """A credit record decided and valid from `since` (to `until`, None: open-ended)."""
    return dict(
        record_id=record_id,
        record_type=kind,
        subject_type=subject,
        subject_code=code,
        decision_date=since,
        valid_from=since,
        valid_to=until,
        **more,
    )


def _payment(
    code: str, payer: str, name: str, amount: str, status: str, number: str, day: dt.date, channel: str
) -> dict:
    """A non-tax payment of the fee item FEE_ITEM, paid at 02:00 UTC on `day` and settled that day."""
    return dict(
        payment_code=code,
        payer_id=payer,
        payer_name=name,
        amount=decimal.Decimal(amount),
        status=status,
        receipt_code="43000026",
        receipt_number=number,
        item_code=FEE_ITEM,
        fiscal_region="430900",
        paid_at=dt.datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC),
        channel=channel,
        collector_code="430900001",
        settlement_date=day,
    )


PERSONS = [
    _person(P_ZHANG, "张三", dt.date(1980, 5, 1), "430902", "000000001", "1"),
    _person(P_LI, "李四", dt.date(2010, 5, 2), "430902", "000000001", "1"),
    _person(P_WANG, "王五", dt.date(1940, 1, 1), "430903", "000000002", "3"),
    _person(P_ZHAO, "赵六", dt.date(1990, 7, 7), "430921", "000000001", "2"),
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
    _credit("BLK000000000001", "black", "legal", E_REVOKED, dt.date(2024, 1, 1), None),
    _credit("BLK000000000002", "black", "legal", E_SHOP, dt.date(2018, 1, 1), dt.date(2019, 12, 31)),
    _credit("CF0000000000001", "cf", "legal", E_SHOP, dt.date(2023, 6, 1), dt.date(2026, 6, 1)),
    _credit(
        "XK0000000000001", "xk", "legal", E_SHOP, dt.date(2021, 7, 1), dt.date(2026, 6, 30), document_number=PERMIT_NO
    ),
    _credit("BLK000000000003", "black", "natural", P_WANG, dt.date(2025, 1, 1), None),
]
PAYMENTS = [
    _payment(PAY_OK, P_ZHANG, "张三", "120.00", "1", "0000000001", dt.date(2026, 3, 1), "3"),
    _payment(PAY_REFUNDED, P_ZHAO, "赵六", "80.00", "2", "0000000002", dt.date(2026, 2, 1), "1"),
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
