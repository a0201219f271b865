"""Scripted approval flows for the demo: three approval systems ask the hub instead of asking for proofs.

不动产登记 (identity + household + alive), 企业开办 (identity + no black list), 烟草专卖证照延续
(entity in business + legal representative + no penalty in 3 years). Subjects are picked from the
curated tables; every answer is sealed, logged and then checked offline with the public key alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.crypto import Algorithm, load_or_create_signer
from exchange.seal import verify_sealed
from exchange.verify.clients import seed_demo_clients
from exchange.verify.rules import code_for
from exchange.verify.service import VerificationService, build_request
from exchange.verify.store import ServingStore, refresh_serving_store
from schemas import load_contract

__all__ = ["run_approval_flows"]

log = logging.getLogger(__name__)


def _pick_subjects(lake: Any) -> dict[str, str]:
    """A person (正常, in 益阳) and an entity in business whose legal representative is known."""
    persons = lake.curated(load_contract("person")).read(columns=["id_number", "name", "status", "region_code"])
    normal = persons.filter(
        pc.and_(
            pc.equal(persons["status"], code_for("person", "person_status", "正常")),
            pc.starts_with(persons["region_code"], "4309"),
        )
    )
    entities = lake.curated(load_contract("legal_entity")).read(
        columns=["uscc", "status", "legal_rep_id", "legal_rep_name"]
    )
    live = entities.filter(pc.equal(entities["status"], code_for("legal_entity", "entity_status", "存续")))
    if normal.num_rows < 2 or live.num_rows < 1:
        raise ValueError("the demo needs at least two persons (正常) and one entity (存续) in the curated tables")
    p, q, e = normal.slice(0, 1).to_pylist()[0], normal.slice(1, 1).to_pylist()[0], live.slice(0, 1).to_pylist()[0]
    return {
        "id": p["id_number"],
        "name": p["name"],
        "id2": q["id_number"],
        "name2": q["name"],
        "uscc": e["uscc"],
        "rep_id": e["legal_rep_id"],
        "rep_name": e["legal_rep_name"],
    }


def _flows(s: dict[str, str]) -> list[tuple[str, str, str, list[tuple[str, dict[str, Any], dict[str, Any]]]]]:
    return [
        (
            "不动产登记",
            "bdc-yiyang",
            "不动产转移登记（存量房买卖）",
            [
                ("identity_matches", {"id_number": s["id"], "name": s["name"]}, {}),
                ("household_in_district", {"id_number": s["id"]}, {"region_code": "430900"}),
                ("person_alive", {"id_number": s["id"]}, {}),
            ],
        ),
        (
            "企业开办",
            "qykb-yiyang",
            "企业设立登记（股东身份及信用核验）",
            [
                ("identity_matches", {"id_number": s["id2"], "name": s["name2"]}, {}),
                ("no_blacklist", {"subject_code": s["id2"]}, {}),
            ],
        ),
        (
            "烟草专卖证照延续",
            "yczm-yiyang",
            "烟草专卖零售许可证延续",
            [
                ("entity_in_business", {"uscc": s["uscc"]}, {}),
                (
                    "legal_rep_matches",
                    {"uscc": s["uscc"], "legal_rep_id": s["rep_id"], "legal_rep_name": s["rep_name"]},
                    {},
                ),
                ("no_penalty_since", {"subject_code": s["uscc"]}, {"years": 3}),
            ],
        ),
    ]


def run_approval_flows(
    *,
    home: Path,
    lake: Any,
    engine: Engine,
    algorithm: Algorithm = "sm2",
    echo: Callable[[str], None] | None = None,
    keys_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Refresh the serving stores, seed the three demo clients, run their flows; one dict per answer.

    Each dict: service, client, item, case_number, status, answer (the sealed answer's content),
    version, answer_id, offline_ok and offline_message (the check with the public key alone, including
    the request binding). `echo` receives printable lines (the CLI passes console.print). The hub key
    is read from `keys_dir` (default `<home>/keys`).
    """
    say = echo or (lambda line: log.info("%s", line))
    for resource in ("person", "legal_entity", "credit_record", "payment"):
        refresh_serving_store(lake, load_contract(resource), home=home)
    signer = load_or_create_signer(keys_dir or Path(home) / "keys", algorithm=algorithm)
    service = VerificationService(store=ServingStore(home), signer=signer, engine=engine)
    with Session(engine) as session:
        keys = seed_demo_clients(session)
        session.commit()
    public_pem = signer.public_key_pem()
    results: list[dict[str, Any]] = []
    for n, (service_name, client_id, purpose, steps) in enumerate(_flows(_pick_subjects(lake)), start=1):
        case_number = f"YY-{client_id.split('-')[0].upper()}-2026-{n:06d}"
        say(f"── {service_name}（{client_id}）办件 {case_number}：{purpose}")
        for item, subject, params in steps:
            body = {"case_number": case_number, "purpose": purpose, "subject": subject, "params": params}
            status, document = service.ask(item, client_key=keys[client_id], body=body)
            check = verify_sealed(document, public_key_pem=public_pem, request=build_request(item, body))
            if status != 200:
                check_ok, check_msg = False, json.dumps(document, ensure_ascii=False)
            else:
                check_ok, check_msg = check.ok, check.message
            answer = document.get("answer", {})
            results.append(
                {
                    "service": service_name,
                    "client": client_id,
                    "item": item,
                    "subject": subject,
                    "case_number": case_number,
                    "status": status,
                    "answer": answer,
                    "version": document.get("version"),
                    "answer_id": answer.get("answer_id"),
                    "offline_ok": check_ok,
                    "offline_message": check_msg,
                }
            )
            shown = {k: v for k, v in answer.items() if k not in ("answer_id", "case_number")}
            say(f"   {item}: {json.dumps(shown, ensure_ascii=False)} (version {document.get('version')}, "
                f"seal {document.get('seal', {}).get('algorithm')}) → offline check: "
                f"{'OK' if check_ok else 'FAILED'} — {check_msg}")  # fmt: skip
    return results
