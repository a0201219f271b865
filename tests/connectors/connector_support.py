"""Fixtures for connector tests: contracts, small source tables built from the contracts (SQLite
always; MariaDB and PostgreSQL when they answer on localhost), inbox folders, a fake HTTP API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from schemas import Contract, load_contract

BASE = dt.datetime(2024, 3, 1, 8, 0, 0, 123456)


@pytest.fixture(scope="session")
def person() -> Contract:
    return load_contract("person")


@pytest.fixture(scope="session")
def credit() -> Contract:
    return load_contract("credit_record")


@pytest.fixture(scope="session")
def payment() -> Contract:
    return load_contract("payment")


def sql_type(field_type: str, precision: int | None = None, scale: int | None = None) -> sa.types.TypeEngine:
    return {
        "string": sa.String(200),
        "integer": sa.Integer(),
        "float": sa.Float(),
        "decimal": sa.Numeric(precision or 18, scale or 2),
        "boolean": sa.Boolean(),
        "date": sa.Date(),
        "timestamp": sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
    }[field_type]


def make_table(
    engine: sa.Engine,
    contract: Contract,
    *,
    drop: tuple[str, ...] = (),
    extra: dict | None = None,
    retype: dict | None = None,
) -> sa.Table:
    """Create the contract's source table (fields + delete flag) on `engine`, index on (cursor, pk)."""
    md = sa.MetaData()
    cols = []
    for f in contract.fields:
        if f.name in drop:
            continue
        typ = (retype or {}).get(f.name) or sql_type(f.type, f.precision, f.scale)
        cols.append(sa.Column(f.name, typ, primary_key=f.name in contract.primary_key))
    if contract.source.deleted_flag:
        cols.append(sa.Column(contract.source.deleted_flag, sa.Boolean, nullable=False, server_default=sa.false()))
    for name, typ in (extra or {}).items():
        cols.append(sa.Column(name, typ))
    table = sa.Table(contract.source.options["table"], md, *cols)
    sa.Index(
        f"ix_{table.name}_cursor",
        table.c[contract.source.cursor],
        *(table.c[k] for k in contract.primary_key),
    )
    md.create_all(engine)
    return table


def person_row(i: int, updated: dt.datetime, *, deleted: bool = False) -> dict[str, Any]:
    return {
        "id_number": f"430902199001{i:06d}",
        "name": f"张{i}",
        "gender": "1",
        "ethnicity": "01",
        "birth_date": dt.date(1990, 1, 1),
        "birth_place": None if i % 3 == 0 else "湖南省益阳市",
        "household_address": "湖南省益阳市赫山区会龙山街道1号",
        "region_code": "430903",
        "household_number": f"{i:09d}",
        "phone": None,
        "status": "1",
        "updated_at": updated,
        "is_deleted": deleted,
    }


def insert(engine: sa.Engine, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)


@pytest.fixture(scope="function")
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'population.db'}"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="function")
def mariadb_url() -> Iterator[str]:
    """A throwaway MariaDB database, dropped afterwards."""
    if not _answers(3306):
        pytest.skip("MariaDB does not answer on 127.0.0.1:3306")
    name = f"govhub_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine("mysql+pymysql://root@127.0.0.1:3306/")
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture(scope="function")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards."""
    if not _answers(5432):
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    name = f"govhub_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def write_settlement(
    inbox: Path,
    contract: Contract,
    day: str,
    rows: list[list[str]],
    *,
    manifest: bool = True,
    encoding: str = "gbk",
    lines: list[str] | None = None,
    manifest_override: dict | None = None,
) -> Path:
    """Write settlement_<day>.csv in GBK with the contract's labels as header, plus its manifest."""
    header = ",".join(f.label for f in contract.fields)
    body = lines if lines is not None else [",".join(r) for r in rows]
    data = ("\r\n".join([header, *body]) + "\r\n").encode(encoding)
    path = inbox / f"settlement_{day}.csv"
    path.write_bytes(data)
    if manifest:
        spec = {
            "file": path.name,
            "rows": len(body),
            "sha256": hashlib.sha256(data).hexdigest(),
            "encoding": "GBK",
            "settlement_date": f"{day[:4]}-{day[4:6]}-{day[6:]}",
        }
        spec.update(manifest_override or {})
        (inbox / (path.name + ".manifest.json")).write_text(json.dumps(spec), encoding="utf-8")
    return path


def payment_row(i: int, day: str) -> list[str]:
    return [
        f"{i:020d}",
        "430900001",
        "益阳市公安局交通警察支队",
        "103001",
        "交通违法罚没收入",
        "430900",
        f"李{i}",
        "430902199001011234",
        f"{100 + i}.50",
        "",
        f"{day[:4]}-{day[4:6]}-{day[6:]} 10:00:00",
        "3",
        "43000001",
        f"{i:010d}",
        "1",
        f"{day[:4]}-{day[4:6]}-{day[6:]}",
    ]


def credit_record(i: int, updated_at: str, *, deleted: bool = False) -> dict[str, Any]:
    return {
        "record_id": f"CF{i:012d}",
        "record_type": "cf",
        "subject_type": "legal",
        "subject_name": f"益阳某公司{i}",
        "subject_code": "91430900MA4L000000",
        "document_number": f"益市监罚〔2024〕{i}号",
        "content": "罚款",
        "amount": 1.5,
        "decision_date": "2024-03-01",
        "valid_from": "2024-03-01",
        "valid_to": None,
        "publish_deadline": "2027-03-01",
        "authority_name": "益阳市市场监督管理局",
        "authority_uscc": "11430900MB1234567X",
        "source_unit": "市市场监管局",
        "updated_at": updated_at,
        "deleted": deleted,
    }


class FakeCreditApi:
    """The credit platform's paging contract in-process (an httpx transport), with fault switches."""

    def __init__(self, records: list[dict[str, Any]], *, token: str = "secret") -> None:
        self.records = records
        self.token = token
        self.faults: list[str] = []  # consumed one per request: "429", "503", "garbled", "truncated", "timeout"
        self.requests: list[dict[str, str]] = []

    def __call__(self, request: Any) -> Any:
        import httpx

        self.requests.append(dict(request.url.params))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"error": "bad token"})
        fault = self.faults.pop(0) if self.faults else None
        if fault == "429":
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"error": "slow down"})
        if fault == "503":
            return httpx.Response(503, text="maintenance")
        if fault == "timeout":
            raise httpx.ReadTimeout("hang", request=request)
        params = request.url.params
        ordered = sorted(self.records, key=lambda r: (dt.datetime.fromisoformat(r["updated_at"]), r["record_id"]))
        since = params.get("updated_since")
        if since:
            ordered = [
                r for r in ordered if dt.datetime.fromisoformat(r["updated_at"]) >= dt.datetime.fromisoformat(since)
            ]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit", 100))
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        body = json.dumps({"data": page, "next_cursor": str(start + limit) if more else None}, ensure_ascii=False)
        if fault == "garbled":
            body = body.replace('"', "'", 3)
        if fault == "truncated":
            body = body[: len(body) // 2]
        return httpx.Response(200, content=body.encode(), headers={"Content-Type": "application/json"})
