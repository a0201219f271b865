"""The access record on the migrated store, SQLite and PostgreSQL: `run_deliveries` indexes, the record reads."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session
from test_delivery import commit, person, person_rows, pid, subscribe  # noqa: F401  (the person fixture)

from exchange.access import access_record
from govhub.db import engine_for
from govhub.exchange_log import hub_subject_keys
from lake import Lake
from schemas import Contract
from tests.service_db import MetadataStore, metadata_store, parametrize_stores  # noqa: F401

pytestmark = parametrize_stores()


def test_run_deliveries_indexes_the_versions_and_the_record_finds_them(
    person: Contract,  # noqa: F811
    store_url: str,
    hub_home: Path,
) -> None:
    from govhub.delivery_runner import run_deliveries

    lake = Lake(str(hub_home / "lake"))
    with Session(engine_for(store_url), expire_on_commit=False) as session:
        subscribe(session)
    commit(lake, person, person_rows(person, [pid(1), pid(2)]), 1)
    assert [r["status"] for r in run_deliveries("person")] == ["done"]
    commit(lake, person, person_rows(person, [pid(2)], tag="v2"), 2)
    assert [r["status"] for r in run_deliveries("person")] == ["done"]
    with Session(engine_for(store_url)) as session:
        two = access_record(session, pid(2), kind="person", keys=hub_subject_keys())
        one = access_record(session, pid(1), kind="person", keys=hub_subject_keys())
    assert [(d.from_version, d.to_version) for d in two.deliveries] == [(0, 1), (None, 0)]
    assert [(d.from_version, d.to_version) for d in one.deliveries] == [(None, 0)]
