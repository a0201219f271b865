"""Migration 0015: a hub whose flags said why they closed only in their closing note gets `closed_reason`
filled in from that note (on SQLite and PostgreSQL), and its flags closed because their record left still
reopen; a downgrade drops the column and loses nothing (the notes still say it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

from catalog import get_flag
from catalog.corrections import record_left, reopen_flag
from govhub.db import _MIGRATIONS, engine_for
from simulators.testing import POSTGRES_URL, server_database
from tests.service_db import postgres_unreachable, store_params

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
WHEN = sa.DateTime(timezone=True)
LEFT = "version {} no longer holds the record"  # the closing notes as the hub wrote them up to 0014
CORRECTED = "version {} carries a corrected value (was '张三')"

# each flag: its status and its steps (action, note); the reason 0015 must find
FLAGS: list[tuple[str, list[tuple[str, str]], str | None]] = [
    ("closed", [("confirmed", "核实属实"), ("closed", LEFT.format(3))], "record_left"),
    ("closed", [("confirmed", "核实属实"), ("closed", CORRECTED.format(2))], "corrected"),
    (  # left, came back with the wrong value, then corrected: the latest closing counts
        "closed",
        [("closed", LEFT.format(2)), ("reopened", "version 3 holds the record again"), ("closed", CORRECTED.format(4))],
        "corrected",
    ),
    (  # corrected, then a later closing because the record left
        "closed",
        [("closed", CORRECTED.format(2)), ("closed", LEFT.format(5))],
        "record_left",
    ),
    ("confirmed", [("closed", LEFT.format(2)), ("reopened", "version 3 holds the record again")], None),
    ("closed", [("closed", LEFT.format(2)), ("superseded", "version 3 …; flag #9 follows it")], "record_left"),
    ("open", [("flagged", "姓名错误")], None),
    ("rejected", [("rejected", "户籍记录无误")], None),
]


def _alembic(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(url: str, revision: str) -> None:
    with engine_for(url).begin() as connection:
        command.upgrade(_alembic(connection), revision)


def _downgrade(url: str, revision: str) -> None:
    with engine_for(url).begin() as connection:
        command.downgrade(_alembic(connection), revision)


def _store_old_flags(url: str) -> list[int]:
    """The flags of `FLAGS` as a 0014 hub stored them (no `closed_reason`); their ids."""
    ids = []
    with engine_for(url).begin() as conn:
        for i, (status, steps, _reason) in enumerate(FLAGS):
            closed = status == "closed"
            flag_id = conn.execute(
                sa.text(
                    "INSERT INTO correction_flag (resource, record_key, field, provider_code, reporter_kind, reporter, "
                    "problem, evidence_text, flagged_value, status, raised_at, due_at, closed_at, closed_version) "
                    "VALUES ('person', :key, 'name', '11430900006012416X', 'department', '11430900006012408C', "
                    "'姓名用字错误', '户口簿', '张三', :status, :at, :at, :closed_at, :version) RETURNING id"
                ).bindparams(sa.bindparam("at", type_=WHEN), sa.bindparam("closed_at", type_=WHEN)),
                {
                    "key": f"43090019800101{i:04d}",
                    "status": status,
                    "at": AT,
                    "closed_at": AT if closed else None,
                    "version": 2 if closed else None,
                },
            ).scalar_one()
            for action, note in steps:
                conn.execute(
                    sa.text(
                        "INSERT INTO correction_event (flag_id, action, actor, at, note) "
                        "VALUES (:flag, :action, 'govhub', :at, :note)"
                    ).bindparams(sa.bindparam("at", type_=WHEN)),
                    {"flag": flag_id, "action": action, "at": AT, "note": note},
                )
            ids.append(flag_id)
    return ids


def _reasons(url: str) -> list[str | None]:
    with engine_for(url).connect() as conn:
        return list(conn.scalars(sa.text("SELECT closed_reason FROM correction_flag ORDER BY id")))


@contextmanager
def _empty_store(kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of `kind` (no tables yet); a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    with server_database(POSTGRES_URL, prefix="govhub_test_0015") as url:
        try:
            yield url
        finally:
            engine_for(url).dispose()


@pytest.mark.parametrize("kind", store_params())
def test_0015_fills_in_why_closed_flags_closed_from_their_notes(kind: str, tmp_path: Path) -> None:
    with _empty_store(kind, tmp_path) as url:
        _upgrade(url, "0014")
        ids = _store_old_flags(url)
        _upgrade(url, "head")
        assert _reasons(url) == [reason for _status, _steps, reason in FLAGS]
        with Session(engine_for(url)) as session:
            assert [record_left(get_flag(session, i)) for i in ids] == [r == "record_left" for *_, r in FLAGS]
            flag = reopen_flag(session, get_flag(session, ids[0]), version=6, note="the record is back")  # still works
            assert (flag.status, flag.closed_reason, flag.closed_version) == ("confirmed", None, None)
            session.rollback()
        _downgrade(url, "0014")  # the column goes, the notes stay: upgrading again finds the same reasons
        with engine_for(url).connect() as conn:
            assert "closed_reason" not in {c["name"] for c in sa.inspect(conn).get_columns("correction_flag")}
        _upgrade(url, "head")
        assert _reasons(url) == [reason for _status, _steps, reason in FLAGS]
        engine_for(url).dispose()
