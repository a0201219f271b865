"""Helpers other rooms' tests import: small simulated sources and throwaway server databases.

from simulators.testing import population_db, running_credit_api, simulator_home, server_database
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from simulators.credit import CreditSimulator
from simulators.generate import Table
from simulators.home import SimulatorHome, build_all, build_population

__all__ = [
    "MARIADB_URL",
    "POSTGRES_URL",
    "population_db",
    "running_credit_api",
    "server_available",
    "server_database",
    "simulator_home",
]

MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def server_available(url: str) -> bool:
    """True when the server of `url` answers on its TCP port (skip service tests otherwise)."""
    u = sa.make_url(url)
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 0), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def server_database(server_url: str, *, prefix: str = "govhub_sim") -> Iterator[str]:
    """A throwaway database on a MariaDB or PostgreSQL server; yields its URL, drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


def population_db(
    tmp_path: Path, *, size: int = 2000, seed: int = 7, bad_share: float = 0.02, url: str | None = None
) -> tuple[str, Table]:
    """A population registry of `size` persons (SQLite in `tmp_path` unless `url`); returns (url, rows)."""
    target = url or f"sqlite:///{Path(tmp_path) / 'population.sqlite'}"
    return target, build_population(target, size=size, seed=seed, bad_share=bad_share)


def simulator_home(tmp_path: Path, *, size: int = 2000, seed: int = 7, bad_share: float = 0.02) -> SimulatorHome:
    """All four systems built in `tmp_path / 'sim'` (SQLite registries, credit store, inbox)."""
    return build_all(Path(tmp_path) / "sim", size=size, seed=seed, bad_share=bad_share)


@contextlib.contextmanager
def running_credit_api(
    db: str | Path | SimulatorHome, *, token: str = "govhub-dev-token", rate_limit: float = 50.0
) -> Iterator[CreditSimulator]:
    """The credit API serving `db` (a path, URL or a home's credit store) on a free port; `.base_url`."""
    target = db.credit_db if isinstance(db, SimulatorHome) else db
    sim = CreditSimulator(target, token=token, rate_limit=rate_limit)
    with sim:
        yield sim
