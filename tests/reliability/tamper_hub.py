"""A small hub that really ran, built once per test process and copied for each test that breaks it.

The template: simulated sources (1,500 persons, 2 % bad), the person ingest run twice with a working
day in between (two dataset versions, change-data files, manifests in the catalogue), the person
serving store, one verification client allowed the person items, a few sealed answers and refusals
in the exchange log, and a signed checkpoint at its end (as a scheduled `checkpoint()` would make).
The tamper and load tests copy it (`hub_copy`) so each works on its own files.
"""

from __future__ import annotations

import atexit
import datetime
import json
import random
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from simulators import SimulatorHome
from tests.hub_support import configure_hub_env

__all__ = ["CLIENT_ID", "ITEMS", "ReliabilityHub", "hub_copy", "person_requests"]

CLIENT_ID = "reliability"
ITEMS = ("identity_matches", "person_alive", "household_in_district", "age_at_least")
_NO_CREDIT = "http://127.0.0.1:9"  # only the person resource is ingested: the credit platform is never called


@dataclass(frozen=True)
class ReliabilityHub:
    """A copy of the template hub: its GOVHUB_HOME, sources, the client's key and known persons."""

    root: Path
    home: Path
    sources: SimulatorHome
    client_key: str
    persons: tuple[tuple[str, str, str], ...]  # (id_number, name, region_code) of curated persons

    @property
    def db_path(self) -> Path:
        return self.home / "govhub.db"


def _env(mp: pytest.MonkeyPatch, home: Path, sources: SimulatorHome) -> None:
    for name in ("GOVHUB_DB_URL", "GOVHUB_LAKE_URL", "GOVHUB_SEAL_ALGORITHM"):
        mp.delenv(name, raising=False)
    configure_hub_env(mp, home, sources, _NO_CREDIT)


def person_requests(persons: tuple[tuple[str, str, str], ...], n: int, seed: int) -> list[tuple[str, dict]]:
    """`n` verification requests (item, body) over known persons, seeded; one in ten asks about an unknown ID."""
    from quality.codes import make_id_number

    rnd = random.Random(seed)
    out = []
    for i in range(n):
        id_number, name, region = rnd.choice(persons)
        if i % 10 == 9:
            id_number = make_id_number("430902", datetime.date(1901, 1, 1), rnd.randrange(999))
        item = ITEMS[i % len(ITEMS)]
        subject: dict = {"id_number": id_number}
        params: dict = {}
        if item == "identity_matches":
            subject["name"] = name
        elif item == "household_in_district":
            params = {"region_code": region}
        elif item == "age_at_least":
            params = {"years": rnd.choice((16, 18, 60))}
        out.append(
            (item, {"case_number": f"REL-{seed}-{i}", "purpose": "可靠性测试", "subject": subject, "params": params})
        )
    return out


def _build(root: Path) -> None:
    from exchange.verify import register_client
    from govhub.db import get_engine, migrate, session_scope
    from govhub.exchange_log import hub_log
    from govhub.pipeline import run_ingest
    from govhub.serving_runner import refresh_serving
    from govhub.settings import reset_settings
    from simulators import build_all
    from simulators.tick import tick_all

    sources = build_all(root / "sources", size=1_500, seed=11, bad_share=0.02)
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, root / "hub", sources)
        migrate()
        run_ingest("person")
        tick_all(sources, day=1)
        run_ingest("person")
        refresh_serving("person")
        with session_scope() as session:
            _, key = register_client(
                session,
                client_id=CLIENT_ID,
                name="可靠性测试系统",
                allowed_items=ITEMS,
                rate_limit_per_minute=10_000_000,
            )
        (root / "client.key").write_text(key)
        _issue_answers(root / "hub", key)
        hub_log().checkpoint()
        get_engine().dispose()
    reset_settings()
    with sqlite3.connect(root / "hub" / "govhub.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _issue_answers(home: Path, key: str) -> None:
    """A few sealed answers and refusals through the real service, so the log holds verification events."""
    from exchange.crypto import load_or_create_signer
    from exchange.verify import LogWriter, ServingStore, VerificationService
    from govhub.db import get_engine

    signer = load_or_create_signer(home / "keys", algorithm="sm2")
    writer = LogWriter(get_engine(), signer=signer)
    service = VerificationService(store=ServingStore(home), signer=signer, engine=get_engine(), writer=writer)
    persons = _persons(home)
    for item, body in person_requests(persons, 24, seed=1):
        status, _ = service.ask(item, client_key=key, body=body)
        assert status == 200, (item, body, status)
    for bad_key in (None, "reliability.forged"):
        service.ask("person_alive", client_key=bad_key, body={"case_number": "X", "purpose": "p", "subject": {}})
    writer.close()


def _persons(home: Path) -> tuple[tuple[str, str, str], ...]:
    from lake import Lake
    from schemas import load_contract

    table = Lake(str(home / "lake")).curated(load_contract("person")).read(columns=["id_number", "name", "region_code"])
    return tuple(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


@cache
def _template() -> Path:
    root = Path(tempfile.mkdtemp(prefix="govhub-reliability-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    _build(root)
    return root


def hub_copy(dest: Path, mp: pytest.MonkeyPatch) -> ReliabilityHub:
    """A private copy of the template hub at `dest`, with this test's GOVHUB_* settings pointing at it."""
    template = _template()
    shutil.copytree(template, dest)
    config_path = dest / "sources" / "simulator.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    for name in ("population_url", "legal_entity_url"):
        config[name] = config[name].replace(str(template), str(dest))
    config_path.write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
    sources = SimulatorHome.open(dest / "sources")
    _env(mp, dest / "hub", sources)
    key = (dest / "client.key").read_text()
    return ReliabilityHub(dest, dest / "hub", sources, key, _persons(dest / "hub"))
