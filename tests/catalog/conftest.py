"""A migrated metadata store per test (copied from one migrated per session), seeded and registered; the
CLI tests' hub home and their complete `subscription apply` arguments."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from catalog import Department, register_contracts, seed_departments
from govhub.db import engine_for, migrate
from govhub.settings import reset_settings
from schemas import Contract, load_all

USER = "11430900006012408C"  # 市人社局, a using department (seeded, generated USCC)
OTHER_USER = "114309000060124167"  # 市住建局
POLICE = "11430900006012344E"  # 市公安局, provides person (有条件共享)
MARKET = "114309000060123529"  # 市市场监管局, provides legal_entity (无条件共享)
FINANCE = "114309000060123791"  # 市财政局, provides payment (有条件共享)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store brought to head through the whole Alembic chain, copied by each test."""
    path = tmp_path_factory.mktemp("template") / "govhub.db"
    migrate(f"sqlite:///{path}")
    engine_for(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def db_url(migrated_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "govhub.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on a fresh store with Yiyang's departments and the shipped contracts registered."""
    with Session(engine_for(db_url), expire_on_commit=False) as session:
        seed_departments(session)
        register_contracts(session)
        session.commit()
        yield session


@pytest.fixture(scope="session")
def contracts() -> dict[str, Contract]:
    return load_all()


@pytest.fixture
def departments(session: Session) -> dict[str, Department]:
    return {d.code: d for d in session.query(Department)}


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner for `govhub` commands on a hub home of its own (`tmp_path / "hub"`)."""
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "hub"))
    reset_settings()
    yield CliRunner()
    reset_settings()


def apply_args(
    *fields: str,
    department: str = USER,
    scope: str = "社保经办系统",
    valid_until: str | None = "2099-12-31",
) -> list[str]:
    """`subscription apply` of `department` for person `fields` with every statement the rules ask for
    (`valid_until` None leaves that one out)."""
    args = ["subscription", "apply", "--as", department, "--resource", "person", "--purpose", "资格认证"]
    args += ["--legal-basis", "社会保险法", "--scope", scope]
    args += ["--valid-until", valid_until] if valid_until is not None else []
    return [*args, *(a for f in fields for a in ("-f", f))]
