"""Helpers shared by the exchange-log tests (plain functions; the shared fixtures are in conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, event

import exchange.log  # noqa: F401  (registers the exchange-log tables on Base.metadata)
from catalog import Base

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def sqlite_engine(path: Path) -> Engine:
    """A file SQLite engine set up like govhub.db.engine_for (WAL, busy timeout), tables created."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    Base.metadata.create_all(engine)
    return engine


def postgres_available() -> bool:
    """True when a PostgreSQL server answers on 127.0.0.1:5432 as user postgres."""
    try:
        probe = create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with probe.connect():
            pass
        probe.dispose()
        return True
    except sa.exc.OperationalError:
        return False


@contextmanager
def postgres_engine() -> Iterator[Engine]:
    """A throw-away PostgreSQL database with the hub tables, dropped afterwards."""
    name = f"govhub_test_log_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(PG_URL.rsplit("/", 1)[0] + f"/{name}", pool_size=10)
    try:
        Base.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def event_kwargs(i: int, **overrides: Any) -> dict[str, Any]:
    """A plausible delivery event, varied by `i`."""
    values: dict[str, Any] = {
        "type": "delivery",
        "source": "hub",
        "target": f"dept-{i % 3}",
        "resource": ("person", "legal_entity", "payment")[i % 3],
        "version": i,
        "rows": 100 + i,
        "bytes": 4096 + i,
        "checksum": f"{i:064x}",
        "duration_ms": 12.5 + i,
        "department": ("公安局", "市场监管局", "财政局")[i % 3],
        "client": f"client-{i % 2}",
        "details": {"n": i, "note": "测试"},
    }
    values.update(overrides)
    return values


def sql(engine: Engine, statement: str, **params: Any) -> None:
    """Run raw SQL the way a tamperer with database access would."""
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def event_id(engine: Engine, seq: int) -> str:
    """The event id stored at `seq`."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT event_id FROM exchange_event WHERE seq = :s"), {"s": seq}).scalar_one()
