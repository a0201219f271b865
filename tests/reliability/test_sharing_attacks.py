"""Attacks on sharing: unmasked PII without the provider's decision, hijacked and cross-department delivery
targets, crafted page tokens. Each case counts its disclosures (protected values a caller saw) and the
rows written outside the target its subscription was granted; both must be 0.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import Subscription, get_target, resolve_target_url
from exchange.delivery import BOOKKEEPING_TABLE, deliver_resource
from exchange.log import ExchangeLog
from govhub.delivery_runner import delivery_secret
from govhub.delivery_targets import add_target, target_resolver
from govhub.settings import get_settings
from schemas import AccessDenied, GovhubError, load_contract
from tests.exchange.verify_support import ENTITIES
from tests.reliability.attack_hub import MARKET, OTHER_TARGET, USER, AttackHub, attack_hub
from tests.reliability.ledger import record

APPLICATION = {
    "purpose": "医保待遇核查",
    "legal_basis": "《医疗保障基金使用监督管理条例》",
    "scope": "医保核查系统",
    "valid_until": "2099-12-31",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttackHub]:
    with attack_hub(tmp_path_factory.mktemp("sharing-attack-hub")) as built:
        yield built


def _disclosed(texts: list[str], secrets: list[str]) -> int:
    return sum(1 for text in texts for secret in secrets if secret and secret in text)


def test_unmasked_pii_of_an_unconditional_resource_waits_for_the_provider(hub: AttackHub) -> None:
    """市人社局 asks legal_entity with pii_access: nothing is granted, pulled or delivered until 市场监管局 decides."""
    ids = [e["legal_rep_id"] for e in ENTITIES] + [e["legal_rep_name"] for e in ENTITIES]
    texts: list[str] = []
    tried = held = 0
    for mode in ("api", "file"):
        answer = hub.client.post(
            "/api/subscriptions",
            headers=hub.headers("user"),
            json={
                **APPLICATION,
                "resource": "legal_entity",
                "fields": ["name", "legal_rep_name", "legal_rep_id"],
                "pii_access": True,
                "delivery_mode": mode,
            },
        )
        sub = answer.json()
        tried += 1
        held += answer.status_code == 201 and sub["status"] == "pending" and sub["decided_by"] is None
        pulled = hub.client.get(f"/api/deliveries/{sub['id']}/changes", headers=hub.headers("user"))
        tried += 1
        held += pulled.status_code in (403, 409)
        texts += [answer.text, pulled.text]
        provider_view = hub.client.get(f"/api/subscriptions/{sub['id']}", headers=hub.headers("market")).json()
        tried += 1
        held += {f["name"] for f in provider_view["pii_fields"]} == {"legal_rep_name", "legal_rep_id"}
    with Session(hub.engine, expire_on_commit=False) as session:
        results = deliver_resource(
            session,
            hub.served.lake,
            load_contract("legal_entity"),
            secret=delivery_secret(),
            exchange_log=ExchangeLog(session),
        )
        pending = session.scalars(sa.select(Subscription).where(Subscription.status == "pending")).all()
    delivered_to_pending = [r for r in results if r.subscription_id in {s.id for s in pending}]
    tried += 1
    held += not delivered_to_pending
    # without pii_access the same application is granted at once, masked
    masked = hub.client.post(
        "/api/subscriptions",
        headers=hub.headers("user"),
        json={
            **APPLICATION,
            "resource": "legal_entity",
            "fields": ["name", "legal_rep_id"],
            "delivery_mode": "api",
            "pii_access": False,
            "purpose": "医保待遇核查（脱敏）",
        },
    ).json()
    if masked.get("status") == "granted":  # a second api subscription to the same resource is a 409: use the first
        rows = hub.client.get(f"/api/deliveries/{masked['id']}/changes", headers=hub.headers("user"))
        texts.append(rows.text)
    disclosures = _disclosed(texts, ids)
    record(
        "attacks",
        "unmasked PII of a 无条件共享 resource without the provider's decision",
        tried=tried,
        held=held if disclosures == 0 else 0,
        attack_class="pii_without_decision",
        disclosures=disclosures,
        delivered_to_pending=len(delivered_to_pending),
    )
    assert held == tried and disclosures == 0


def _apply_for_database(hub: AttackHub, **aim: str) -> Any:
    """The user department applies for credit records delivered to a database it names (`target` or `target_url`)."""
    application = {**APPLICATION, "resource": "credit_record", "fields": ["record_id"], "delivery_mode": "database"}
    return hub.client.post("/api/subscriptions", headers=hub.headers("user"), json={**application, **aim})


def _deliver(hub: AttackHub, session: Session, subscription_id: int, **kwargs: Any) -> list[Any]:
    """Credit records delivered now to one subscription, its target resolved as the hub does."""
    return deliver_resource(
        session,
        hub.served.lake,
        load_contract("credit_record"),
        secret=delivery_secret(),
        targets=target_resolver(session, get_settings()),
        subscriptions=[session.get(Subscription, subscription_id)],
        **kwargs,
    )


def _hub_tables(hub: AttackHub) -> set[str]:
    return set(sa.inspect(hub.engine).get_table_names())


def test_department_chosen_targets_are_refused(hub: AttackHub) -> None:
    """Every way a department could aim a delivery at the hub, a local server or another department."""
    hub_db = hub.served.home / "govhub.db"
    urls = [
        f"sqlite:///{hub_db}",
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "postgresql+psycopg://postgres@localhost/govhub",
        "mysql+pymysql://root@127.0.0.1:3306/mysql",
        "sqlite:////etc/passwd",
    ]
    names = [OTHER_TARGET, "../../keys/hub-ed25519", "zj-credit-db ", "ZJ-CREDIT-DB", "x" * 64, "'; DROP TABLE x;--"]
    before = _hub_tables(hub)
    aims = [{"target_url": url} for url in urls] + [{"target": name} for name in names]
    answers = [_apply_for_database(hub, **aim) for aim in aims]
    refused = sum(a.status_code in (404, 422) for a in answers)
    secrets = [str(hub_db), str(hub.served.home), "10.0.0.9", "zhujian", "5432", "s3cret"]
    disclosures = _disclosed([a.text for a in answers], secrets)
    outside = len(_hub_tables(hub) - before)
    record(
        "attacks",
        "department-chosen delivery targets (URLs, other departments' names)",
        tried=len(answers),
        held=refused if disclosures == 0 and outside == 0 else 0,
        attack_class="target_hijack",
        disclosures=disclosures,
        rows_outside=outside,
    )
    assert refused == len(answers) and disclosures == 0 and outside == 0


def _rows_in(path: Path, table: str) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()
        return db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] if found else 0


def test_targets_reaching_the_hub_or_another_department_deliver_nothing(hub: AttackHub, tmp_path: Path) -> None:
    """Registered targets re-pointed (secret file, symlink, hard link, other spellings) at the hub's own store
    or at another department's database: refused at registration and again at delivery, nothing written."""
    settings = get_settings()
    hub_db = hub.served.home / "govhub.db"
    market_db = tmp_path / "market.db"
    user_db = tmp_path / "rsj.db"
    link = tmp_path / "looks-innocent.db"
    link.symlink_to(hub_db)
    hard = tmp_path / "hard-link.db"
    os.link(hub_db, hard)
    tried = held = 0
    with Session(hub.engine, expire_on_commit=False) as session:
        add_target(session, department_code=MARKET, name="scjg-db", url=f"sqlite:///{market_db}")
        add_target(session, department_code=USER, name="rsj-db", url=f"sqlite:///{user_db}")
        session.commit()
        hijacks = {
            "hub store": f"sqlite:///{hub_db}",
            "hub store via a symlink": f"sqlite:///{link}",
            "hub store via a hard link": f"sqlite:///{hard}",
            "hub store via dot segments": f"sqlite:///{tmp_path}/../{tmp_path.name}/{link.name}",
            "another department": f"sqlite:///{market_db}",
            "another department via a symlink": f"sqlite:///{tmp_path / 'alias.db'}",
        }
        (tmp_path / "alias.db").symlink_to(market_db)
        for url in hijacks.values():  # at registration, by the hub administrator
            tried += 1
            try:
                add_target(session, department_code=USER, name="evil", url=url)
            except AccessDenied:
                held += 1
            session.rollback()
        # behind the hub's back: the registered secret file now points elsewhere; delivery must refuse it
        grant = _apply_for_database(hub, target="rsj-db").json()
        assert grant["status"] == "granted", grant
        secret = Path(get_target(session, USER, "rsj-db").connection_ref.removeprefix("file:"))
        errors = []
        for url in hijacks.values():
            secret.write_text(url)
            tried += 1
            results = _deliver(hub, session, grant["id"], exchange_log=ExchangeLog(session))
            errors += [r.error or "" for r in results]
            held += all(r.status == "failed" for r in results) and bool(results)
        secret.write_text(f"sqlite:///{user_db}")
    outside = _rows_in(hub_db, "credit_record") + _rows_in(hub_db, BOOKKEEPING_TABLE)
    outside += _rows_in(market_db, "credit_record") + _rows_in(market_db, BOOKKEEPING_TABLE)
    disclosures = _disclosed(errors, [str(tmp_path), str(hub_db), str(hub.served.home)])
    hub_cases = sum("hub" in k for k in hijacks)
    record(
        "attacks",
        "targets re-pointed at the hub's own store",
        tried=hub_cases * 2,
        held=min(held, hub_cases * 2) if outside == 0 and disclosures == 0 else 0,
        attack_class="target_hijack",
        disclosures=disclosures,
        rows_outside=_rows_in(hub_db, "credit_record") + _rows_in(hub_db, BOOKKEEPING_TABLE),
    )
    other_cases = len(hijacks) - hub_cases
    record(
        "attacks",
        "targets re-pointed at another department's database",
        tried=other_cases * 2,
        held=other_cases * 2 if held == tried and outside == 0 else 0,
        attack_class="cross_department_target",
        rows_outside=_rows_in(market_db, "credit_record") + _rows_in(market_db, BOOKKEEPING_TABLE),
    )
    assert held == tried and outside == 0 and disclosures == 0
    with Session(hub.engine) as session:  # repaired: the department's own database receives its grant
        assert resolve_target_url(session, USER, "rsj-db", reserved=settings.hub_stores).endswith("rsj.db")


def test_a_failing_target_tells_the_department_its_name_never_host_or_port(hub: AttackHub) -> None:
    """The port scanner: targets on closed ports and unknown hosts fail with the target's name only."""
    probes = {
        "closed-port": "postgresql+psycopg://scan@127.0.0.1:5999/x",
        "no-host": "mysql+pymysql://a@no-such-host.invalid:1/x",
        "bad-driver": "nosuchdialect://a@10.1.2.3:7/x",
    }
    errors = []
    with Session(hub.engine, expire_on_commit=False) as session:
        for name, url in probes.items():
            try:
                add_target(session, department_code=USER, name=f"probe-{name}", url=url)
            except GovhubError as e:
                errors.append(str(e))
                continue
            session.commit()
            sub = _apply_for_database(hub, target=f"probe-{name}", purpose=f"探测 {name}").json()
            if "id" not in sub:
                errors.append(str(sub))
                continue
            results = _deliver(hub, session, sub["id"])
            errors += [r.error or "" for r in results]
            hub.client.post(f"/api/subscriptions/{sub['id']}/revoke", headers=hub.headers("user"), json={"reason": "x"})
    listed = hub.client.get("/api/deliveries", headers=hub.headers("user")).text
    details = ["5999", "127.0.0.1", "no-such-host", "10.1.2.3", "Connection refused", "nosuchdialect", "timed out"]
    disclosures = _disclosed([*errors, listed], details)
    record(
        "attacks",
        "failing targets as a port scanner",
        tried=len(probes),
        held=len(probes) if disclosures == 0 else 0,
        attack_class="target_hijack",
        disclosures=disclosures,
    )
    assert disclosures == 0, [e for e in [*errors, listed] if any(d in e for d in details)]


def _token(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CRAFTED = [
    _token('{"a":null,"t":99999999999999999999999999,"o":0}'),
    _token('{"a":null,"t":9223372036854775807,"o":0}'),
    _token('{"a":null,"t":1000000,"o":0}'),
    _token('{"a":null,"t":-1,"o":0}'),
    _token('{"a":null,"t":0,"o":-100}'),
    _token('{"a":null,"t":0,"o":1e400}'),
    _token('{"a":null,"t":NaN,"o":0}'),
    _token('{"a":-2,"t":0,"o":0}'),
    _token('{"a":5,"t":1,"o":0}'),
    _token('{"a":true,"t":1,"o":0}'),
    _token('{"a":null,"t":"1","o":"0"}'),
    _token('{"t":1}'),
    _token("[]"),
    _token("null"),
    _token("[" * 190),
    "%%%",
    "not-a-token",
    "A" * 200,
    "😀",
]


def test_crafted_page_tokens_answer_400_without_server_details(hub: AttackHub) -> None:
    sub = hub.subscriptions["user_person_api"]
    answers = [
        hub.client.get(f"/api/deliveries/{sub}/changes", params={"page_token": t}, headers=hub.headers("user"))
        for t in CRAFTED
    ]
    held = sum(a.status_code == 400 and a.json()["code"] == "bad_page_token" for a in answers)
    details = [str(hub.served.home), "lake", "Traceback", "_delta_log", "deltalake"]
    disclosures = _disclosed([a.text for a in answers], details)
    record(
        "attacks",
        "crafted page tokens (huge, negative, non-integer, garbage)",
        tried=len(CRAFTED),
        held=held if disclosures == 0 else 0,
        attack_class="tokens",
        disclosures=disclosures,
        statuses=sorted({a.status_code for a in answers}),
    )
    odd = [(a.status_code, a.text[:300]) for a in answers if a.status_code != 400]
    assert held == len(CRAFTED) and disclosures == 0, odd
