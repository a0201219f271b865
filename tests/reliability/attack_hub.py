"""A populated hub behind the whole web app, for the attack and fuzzing tests (this module holds no tests).

Curated tables and serving stores from the verification fixtures, the catalogue and its departments
with API keys, dataset versions, subscriptions in every state (applied, granted by the provider,
delivered by file and pulled through the API) across three departments, verification clients with
known keys, plus a department whose key was re-issued (the old key is revoked) and an inactive one.
`protected` lists values no refused request may ever echo back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog import Department, apply, decide, issue_api_key, record_version, register_contracts, seed_departments
from exchange.delivery import deliver_resource
from exchange.log import ExchangeEvent, ExchangeLog
from govhub.delivery_runner import delivery_secret
from govhub.delivery_targets import add_target
from govhub.settings import reset_settings
from schemas import load_contract
from tests.exchange.verify_support import ENTITIES, PERSONS, RECORDS, ServedHub, build_hub
from web import create_app
from web.deps import get_session
from web.routes.verify import get_verification_service

__all__ = ["DEPARTMENTS", "AttackHub", "attack_hub", "log_events"]

USER = "11430900006012408C"  # 市人社局: applies for person (api) and payment (pending)
OTHER_USER = "114309000060124167"  # 市住建局: person (api, with PII) and legal_entity (file)
POLICE = "11430900006012344E"  # 市公安局: provides person
MARKET = "114309000060123529"  # 市市场监管局: provides legal_entity
FINANCE = "114309000060123791"  # 市财政局: provides payment
REISSUED = "114309000060124242"  # a user department whose first key was replaced (so revoked)
INACTIVE = "11430900006012459L"  # a user department switched off after its key was issued
DEPARTMENTS = {"user": USER, "other": OTHER_USER, "police": POLICE, "market": MARKET, "finance": FINANCE}
OTHER_PURPOSE = "住房保障资格复核（住建局内部用途）"
OTHER_TARGET_PASSWORD = "s3cret-target-pw"
OTHER_TARGET = "zj-credit-db"  # 市住建局's registered delivery target (its URL is held in a secret file)


@dataclass
class AttackHub:
    """The app, its client and everything a test needs to aim an attack and check the outcome."""

    app: FastAPI
    client: TestClient
    served: ServedHub
    keys: dict[str, str]  # role -> department API key
    revoked_key: str  # the first key of REISSUED (replaced, so revoked)
    inactive_key: str  # the key of INACTIVE (department switched off)
    subscriptions: dict[str, int]  # name -> subscription id
    protected: list[str] = field(default_factory=list)

    @property
    def engine(self) -> sa.Engine:
        return self.served.engine

    @property
    def client_keys(self) -> dict[str, str]:
        """Verification client id -> key ('all', 'narrow', 'slow')."""
        return self.served.keys

    def headers(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}

    def events_after(self, seq: int) -> list[ExchangeEvent]:
        """Exchange-log events appended after `seq`, oldest first (open refusal windows written first)."""
        from web.refusals import refusal_window

        refusal_window(self.app).flush(everything=True)
        with Session(self.engine) as session:
            found = select(ExchangeEvent).where(ExchangeEvent.seq > seq).order_by(ExchangeEvent.seq)
            return list(session.scalars(found))

    def last_seq(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.max(ExchangeEvent.seq))) or 0


def log_events(hub: AttackHub) -> int:
    """How many events the exchange log holds."""
    with Session(hub.engine) as session:
        return session.scalar(select(func.count()).select_from(ExchangeEvent)) or 0


def _populate(session: Session, served: ServedHub) -> tuple[dict[str, str], str, str, dict[str, int]]:
    seed_departments(session)
    register_contracts(session)
    for resource in RECORDS:
        version = served.lake.curated(load_contract(resource)).version()
        record_version(
            session,
            resource=resource,
            version=version,
            run_id=f"attack-{resource}",
            rows_total=len(RECORDS[resource]),
            rows_inserted=len(RECORDS[resource]),
            schema_fingerprint="0" * 64,
            scorecard={"completeness": 1.0},
        )
    keys = {role: issue_api_key(session, code) for role, code in DEPARTMENTS.items()}
    revoked = issue_api_key(session, REISSUED)
    issue_api_key(session, REISSUED)  # replaces (revokes) the first
    inactive = issue_api_key(session, INACTIVE)
    session.get(Department, INACTIVE).active = False  # type: ignore[union-attr]
    person_fields = ["id_number", "name", "birth_date", "region_code"]
    subs: dict[str, int] = {}
    mine = apply(
        session,
        department_code=USER,
        resource="person",
        purpose="社保待遇资格认证",
        legal_basis="《社会保险法》",
        fields=person_fields,
        delivery_mode="api",
    )
    decide(session, mine.id, actor_department=POLICE, approve=True, reason=None)
    subs["user_person_api"] = mine.id
    theirs = apply(
        session,
        department_code=OTHER_USER,
        resource="person",
        purpose=OTHER_PURPOSE,
        legal_basis="《住房保障条例》",
        fields=person_fields,
        pii_access=True,
        delivery_mode="api",
    )
    decide(session, theirs.id, actor_department=POLICE, approve=True, reason=None)
    subs["other_person_api"] = theirs.id
    filed = apply(
        session,
        department_code=OTHER_USER,
        resource="legal_entity",
        purpose=OTHER_PURPOSE,
        legal_basis="《市场主体登记管理条例》",
        fields=["uscc", "name", "legal_rep_name"],
        delivery_mode="file",
    )
    subs["other_entity_file"] = filed.id
    pending = apply(
        session,
        department_code=USER,
        resource="payment",
        purpose="缴费核查",
        legal_basis="《非税收入管理办法》",
        fields=["payment_code", "amount"],
        delivery_mode="api",
    )
    subs["user_payment_pending"] = pending.id
    add_target(
        session,
        department_code=OTHER_USER,
        name=OTHER_TARGET,
        url=f"postgresql+psycopg://zhujian:{OTHER_TARGET_PASSWORD}@10.0.0.9/zhujian",
    )
    database = apply(
        session,
        department_code=OTHER_USER,
        resource="credit_record",
        purpose=OTHER_PURPOSE,
        legal_basis="《社会信用体系建设规划纲要》",
        fields=["record_id", "subject_code"],
        delivery_mode="database",
        target=OTHER_TARGET,
    )
    subs["other_credit_database"] = database.id
    session.commit()
    return keys, revoked, inactive, subs


@contextmanager
def attack_hub(home: Path) -> Iterator[AttackHub]:
    """Build the hub under `home` (GOVHUB_HOME for the app too) and serve the whole app over it."""
    patch = pytest.MonkeyPatch()
    patch.setenv("GOVHUB_HOME", str(home))
    patch.setenv("GOVHUB_REFUSAL_LIMIT", "1000000")  # attacks count refusals, not the per-address limit
    reset_settings()
    served = build_hub(home)
    try:
        with Session(served.engine, expire_on_commit=False) as session:
            keys, revoked, inactive, subs = _populate(session, served)
            secret = delivery_secret()
            deliver_resource(
                session, served.lake, load_contract("legal_entity"), secret=secret, exchange_log=ExchangeLog(session)
            )
        app = create_app()

        def _session() -> Iterator[Session]:
            with Session(served.engine, expire_on_commit=False) as session:
                yield session

        app.dependency_overrides[get_session] = _session
        app.dependency_overrides[get_verification_service] = lambda: served.service
        with TestClient(app, raise_server_exceptions=False) as client:
            hub = AttackHub(app, client, served, keys, revoked, inactive, subs)
            pulled = client.get(f"/api/deliveries/{subs['other_person_api']}/changes", headers=hub.headers("other"))
            assert pulled.status_code == 200, pulled.text
            hub.protected = _protected(hub, secret)
            yield hub
    finally:
        served.service.writer.close()
        served.engine.dispose()
        patch.undo()
        reset_settings()


def _protected(hub: AttackHub, secret: bytes) -> list[str]:
    """Values a refused caller must never see: keys, secrets, the subjects' data, another department's purpose."""
    values: list[Any] = [*hub.keys.values(), *hub.client_keys.values(), hub.revoked_key, hub.inactive_key]
    values += [secret.hex(), OTHER_PURPOSE, OTHER_TARGET_PASSWORD]
    values += [p["id_number"] for p in PERSONS] + [p["name"] for p in PERSONS]
    values += [e["legal_rep_id"] for e in ENTITIES]
    pem = next((hub.served.home / "keys").glob("hub-*.key")).read_text(encoding="utf-8")
    values.append(pem.splitlines()[1])  # a line of the private key
    return [str(v) for v in values]
