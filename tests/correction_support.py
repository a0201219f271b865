"""A hub with published person records and one granted subscription: the ground for correction tests.

Prepared once per process and copied for each test (migrations, seeding and the first lake commit cost
more than a copy of the few files they leave)."""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy.orm import Session

from catalog import apply, decide, register_contracts, seed_departments
from govhub.db import engine_for, migrate
from govhub.delivery_runner import open_lake
from govhub.settings import get_settings
from schemas import arrow_schema, load_contract
from tests.hub_support import home_from_template, template_home

__all__ = [
    "ALICE",
    "BOB",
    "OTHER_USER",
    "POLICE",
    "USER",
    "CorrectionHub",
    "asked",
    "correction_hub",
    "correction_template",
    "publish_people",
]

USER = "11430900006012408C"  # 市人社局: granted person (id_number, name, status)
OTHER_USER = "114309000060124167"  # 市住建局: no grant on person
POLICE = "11430900006012344E"  # 市公安局: provides person
ALICE = "430902199001011234"
BOB = "430903198502023456"


@dataclass
class CorrectionHub:
    """GOVHUB_HOME with a migrated store, departments, contracts, a grant and published persons."""

    home: Path
    db_url: str
    run_seq: int = 1

    def session(self) -> Session:
        return Session(engine_for(self.db_url), expire_on_commit=False)

    def publish(self, names: dict[str, str], *, status: str = "1", deleted: Collection[str] = ()) -> int | None:
        """Publish the persons `names` (id → name) as the next version, `deleted` ids removed from it; the
        version, or None when unchanged."""
        self.run_seq += 1
        return publish_people(names, run_seq=self.run_seq, status=status, deleted=deleted)


def publish_people(
    names: dict[str, str], *, run_seq: int, status: str = "1", deleted: Collection[str] = ()
) -> int | None:
    """Commit person rows (every other field fixed) to the curated table of the configured lake; the ids in
    `deleted` are committed as deletions."""
    contract = load_contract("person")
    names = {**names, **{key: "已删除" for key in deleted}}
    n = len(names)
    columns = {
        "id_number": list(names),
        "name": list(names.values()),
        "gender": ["1"] * n,
        "ethnicity": ["01"] * n,
        "birth_date": [dt.date(1990, 1, 1)] * n,
        "birth_place": [None] * n,
        "household_address": ["湖南省益阳市资阳区某路1号"] * n,
        "region_code": ["430902"] * n,
        "household_number": ["H0001"] * n,
        "phone": [None] * n,
        "status": [status] * n,
        "updated_at": [dt.datetime(2026, 3, 2, tzinfo=dt.UTC)] * n,
    }
    table = pa.table(columns, schema=arrow_schema(contract))
    if deleted:
        table = table.append_column("_deleted", pa.array([key in deleted for key in names]))
    info = open_lake().curated(contract).commit(table, app_id="test:person", run_seq=run_seq, metadata={})
    return info.version if info else None


def correction_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, template: Path | None = None) -> CorrectionHub:
    """Point govhub at `tmp_path`, a copy of `template` (default: `correction_template()`): seeded, 市人社局
    granted person, Alice and Bob published."""
    home_from_template(template or correction_template(), tmp_path, monkeypatch)
    return CorrectionHub(home=tmp_path, db_url=get_settings().metadata_url)


@functools.cache
def correction_template() -> Path:
    """The correction hub's home, prepared once per process (removed at exit) and copied by each test."""
    home = Path(tempfile.mkdtemp(prefix="govhub-corrections-"))
    atexit.register(shutil.rmtree, home, True)
    with template_home(home):
        _prepare()
    return home


def _prepare() -> None:
    """Seed the configured hub, grant 市人社局 person and publish Alice and Bob."""
    url = get_settings().metadata_url
    migrate(url)
    with Session(engine_for(url)) as session:
        seed_departments(session)
        register_contracts(session)
        sub = apply(
            session,
            department_code=USER,
            resource="person",
            purpose="社会保险待遇资格认证",
            legal_basis="《社会保险法》",
            fields=["name", "status"],
            delivery_mode="file",
        )
        decide(session, sub.id, actor_department=POLICE, approve=True)
        session.commit()
    publish_people({ALICE: "张三", BOB: "李四"}, run_seq=1)


def asked(client: str, case_number: str, id_number: str) -> None:
    """Log an answered verification question of `client` in `case_number` about the person `id_number`."""
    from exchange.log import EventType
    from exchange.subjects import subject_hash
    from govhub.exchange_log import hub_log, hub_subject_keys

    hub_log().append(
        EventType.VERIFICATION,
        source="hub",
        target=f"client:{client}",
        client=client,
        resource="person",
        case_number=case_number,
        subject_hash=subject_hash([id_number], keys=hub_subject_keys()),
        outcome="ok",
        details={"item": "identity_matches", "status": 200},
    )
