"""The hub's metadata store for tests: SQLite in tmp_path, or a throwaway PostgreSQL database.

`metadata_store` is a module-scoped fixture, "sqlite" unless parametrized (`parametrize_stores()`,
or a room's `pytest_generate_tests`) with "sqlite" / "postgresql": the PostgreSQL
database is created and brought to head through the Alembic chain once per test module, then
emptied before each test (`fresh_url`); it is dropped when the module ends. Without a server on
127.0.0.1:5432 the "postgresql" parameter skips, saying so. Import the fixture into a room's
conftest or test module: `from tests.service_db import metadata_store  # noqa: F401`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import pytest
import sqlalchemy as sa

from govhub.db import engine_for, migrate
from simulators.testing import POSTGRES_URL, server_database

__all__ = [
    "STORES",
    "MetadataStore",
    "metadata_store",
    "parametrize_stores",
    "postgres_database",
    "postgres_unreachable",
    "store_params",
    "truncate_all",
]

Store = Literal["sqlite", "postgresql"]
STORES: tuple[Store, ...] = ("sqlite", "postgresql")


@cache
def postgres_unreachable() -> str | None:
    """None when PostgreSQL answers on 127.0.0.1:5432 as user postgres, else the skip reason."""
    probe = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
    try:
        with probe.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.SQLAlchemyError as e:
        first = str(getattr(e, "orig", e) or e).strip().splitlines()[0]
        return f"PostgreSQL not reachable on 127.0.0.1:5432: {first}"
    finally:
        probe.dispose()
    return None


def store_params(stores: tuple[Store, ...] = STORES) -> list:
    """pytest params for `stores`; the PostgreSQL one carries the `services` marker."""
    marks = {"sqlite": (), "postgresql": (pytest.mark.services,)}
    return [pytest.param(s, id=s, marks=marks[s]) for s in stores]


@dataclass
class MetadataStore:
    """One migrated metadata store; `fresh_url(tmp_path)` gives an empty one for a test."""

    kind: Store
    url: str | None = None  # the module's PostgreSQL database (None for SQLite)
    _template: Path | None = field(default=None, repr=False)  # a migrated SQLite file to copy

    def fresh_url(self, tmp_path: Path) -> str:
        """An empty, migrated store: a copy of the migrated SQLite file, or the PG database truncated."""
        if self.kind == "sqlite":
            assert self._template is not None
            path = tmp_path / "govhub.db"
            shutil.copy(self._template, path)
            return f"sqlite:///{path}"
        assert self.url is not None
        truncate_all(self.url)
        return self.url


def truncate_all(url: str) -> None:
    """Empty every hub table (keeping alembic_version) and restart its sequences: a fresh store.

    DELETE children before parents, not TRUNCATE: on tables this small it takes ~15 ms instead of
    ~300 ms (TRUNCATE swaps every table's files).
    """
    tables, sequences = _layout(url)
    with engine_for(url).begin() as conn:
        for table in tables:
            conn.exec_driver_sql(f'DELETE FROM "{table}"')
        for sequence in sequences:
            conn.exec_driver_sql(f'ALTER SEQUENCE "{sequence}" RESTART')


@cache
def _layout(url: str) -> tuple[list[str], list[str]]:
    """The store's tables, children first, and its sequences (read once per database)."""
    meta = sa.MetaData()
    with engine_for(url).connect() as conn:
        meta.reflect(conn)
        sequences = list(conn.scalars(sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")))
    tables = [t.name for t in reversed(meta.sorted_tables) if t.name != "alembic_version"]
    return tables, sequences


@contextmanager
def postgres_database(*, prefix: str = "govhub_test") -> Iterator[str]:
    """A throwaway migrated PostgreSQL database (skips when the server does not answer); dropped after."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    with server_database(POSTGRES_URL, prefix=prefix) as url:
        try:
            migrate(url)
            yield url
        finally:
            engine_for(url).dispose()


def parametrize_stores(stores: tuple[Store, ...] = STORES) -> pytest.MarkDecorator:
    """Run a module's tests once per store: `pytestmark = parametrize_stores()` (one DB per module)."""
    return pytest.mark.parametrize("metadata_store", store_params(stores), indirect=True, scope="module")


@pytest.fixture(scope="module")
def metadata_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataStore]:
    """The store a module's tests run on: "sqlite" (a file per test, the default) or "postgresql" (a DB per module)."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        template = tmp_path_factory.mktemp("store") / "govhub.db"
        migrate(f"sqlite:///{template}")
        engine_for(f"sqlite:///{template}").dispose()
        yield MetadataStore("sqlite", _template=template)
        return
    with postgres_database() as url:
        yield MetadataStore("postgresql", url=url)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """As a plugin (`-p tests.service_db`, which .ci/run passes): tag `services` tests in the JUnit XML."""
    for item in items:
        if item.get_closest_marker("services"):
            item.user_properties.append(("services", "true"))
