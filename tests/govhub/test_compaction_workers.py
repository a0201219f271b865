"""Two workers compacting one resource at once: one compacts, the other refuses cleanly; nothing is lost.

A compaction removes the files an interrupted one left behind, so a second compaction running beside
the first would remove the first one's files in flight: the resource's lock serialises them, and a
worker that finds it held writes nothing, names the holder and goes on with the other resources.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compaction_support import PEOPLE, RENAMED, pending_person_hub, person_names, person_table
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from govhub.compaction import CompactionOutcome, compact_lake
from govhub.db import engine_for
from govhub.delivery_runner import open_lake
from govhub.pipeline.runs import acquire_lock, release_lock, resource_state
from govhub.settings import get_settings, reset_settings
from lake.curated import CuratedTable


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A hub whose person table has a base of 40 and 10 pending changes."""
    yield pending_person_hub(tmp_path, monkeypatch)
    reset_settings()


def _assert_one_compaction_nothing_lost() -> None:
    table = person_table()
    assert len(table.compactions()) == 1 and table.pending_rows()[0] == 0
    assert person_names() == {**PEOPLE, **RENAMED}
    with Session(engine_for(get_settings().metadata_url)) as session:
        assert resource_state(session, "person").lock_run_id is None  # released by the worker that held it


def test_a_second_worker_refuses_while_the_first_compacts(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inside, go_on = threading.Event(), threading.Event()
    compact = CuratedTable.compact

    def held(self: CuratedTable, **kwargs: Any) -> Any:  # the first worker stops inside its compaction
        inside.set()
        assert go_on.wait(60)
        return compact(self, **kwargs)

    monkeypatch.setattr(CuratedTable, "compact", held)
    first: list[CompactionOutcome] = []
    worker = threading.Thread(target=lambda: first.extend(compact_lake(["person"], force=True)))
    worker.start()
    try:
        assert inside.wait(60)
        monkeypatch.setattr(CuratedTable, "compact", compact)
        (second,) = compact_lake(["person"], force=True)
    finally:
        go_on.set()
        worker.join(60)
    assert second.info is None and second.busy is not None
    assert "another compaction compact-" in second.busy and "nothing was written" in second.busy
    (done,) = first
    assert done.busy is None and done.info is not None and done.info.rows == 10
    _assert_one_compaction_nothing_lost()


def test_two_workers_racing_compact_once(home: Path) -> None:
    start = threading.Barrier(2)
    outcomes: list[CompactionOutcome] = []

    def work() -> None:
        start.wait(30)
        outcomes.extend(compact_lake(["person"], force=True))

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert len(outcomes) == 2
    assert sum(o.info is not None for o in outcomes) == 1  # the other was refused, or found nothing left to do
    _assert_one_compaction_nothing_lost()


def test_a_held_resource_is_skipped_and_the_others_compacted(home: Path) -> None:
    from tests.exchange.verify_support import ENTITIES, commit_tables

    commit_tables(open_lake(), {"legal_entity": ENTITIES})
    commit_tables(open_lake(), {"legal_entity": [{**e, "name": e["name"] + "分店"} for e in ENTITIES]}, run_seq=2)
    run = "person-000003-abcdef"
    with Session(engine_for(get_settings().metadata_url)) as session:
        acquire_lock(session, "person", run, lease_seconds=600)  # an ingest of person is running
        outcomes = {o.resource: o for o in compact_lake(force=True)}
        assert outcomes["person"].info is None and f"ingest run {run}" in (outcomes["person"].busy or "")
        assert outcomes["legal_entity"].busy is None and outcomes["legal_entity"].info is not None
        assert len(person_table().compactions()) == 0 and resource_state(session, "person").lock_run_id == run
        from cli.main import app

        result = CliRunner().invoke(app, ["lake", "compact", "person", "--force"])
        assert result.exit_code == 1 and "busy, not compacted" in result.output, result.output
        release_lock(session, "person", run)
        session.commit()
    assert compact_lake(["person"], force=True)[0].info is not None
    _assert_one_compaction_nothing_lost()
