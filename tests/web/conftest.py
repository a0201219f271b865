"""The web app over a fresh migrated store per test, with departments seeded and API keys issued.

The store is migrated, seeded and given keys once per session (scrypt makes key issuing slow),
then copied for each test; the app's session dependency is pointed at the copy. The app itself is built
once per session too (its seventy routes take longer to build than most tests take to run): each test
gets it with its state cleared, the sharing limits re-read and its own TestClient (lifespan included).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from catalog import issue_api_key, register_contracts, seed_departments
from govhub.db import engine_for, migrate
from govhub.sharing_disputes import apply_sharing_limits
from web import create_app
from web.deps import get_session

USER = "11430900006012408C"  # 市人社局
OTHER_USER = "114309000060124167"  # 市住建局
POLICE = "11430900006012344E"  # 市公安局: provides person (有条件共享)
MARKET = "114309000060123529"  # 市市场监管局: provides legal_entity (无条件共享)
FINANCE = "114309000060123791"  # 市财政局: provides payment (有条件共享)


@dataclass(frozen=True)
class Template:
    path: Path
    keys: dict[str, str]


@dataclass
class Api:
    client: TestClient
    db_url: str
    keys: dict[str, str]

    def headers(self, department: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[department]}

    def session(self) -> Session:
        return Session(engine_for(self.db_url), expire_on_commit=False)


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("web") / "govhub.db"
    url = f"sqlite:///{path}"
    migrate(url)
    with Session(engine_for(url)) as session:
        seed_departments(session)
        register_contracts(session)
        keys = {code: issue_api_key(session, code) for code in (USER, OTHER_USER, POLICE, MARKET, FINANCE)}
        session.commit()
    engine_for(url).dispose()
    return Template(path=path, keys=keys)


@pytest.fixture(scope="session")
def web_app() -> FastAPI:
    return create_app()


@pytest.fixture
def api(web_app: FastAPI, web_template: Template, tmp_path: Path) -> Iterator[Api]:
    path = tmp_path / "govhub.db"
    shutil.copy(web_template.path, path)
    url = f"sqlite:///{path}"

    def _session() -> Iterator[Session]:
        with Session(engine_for(url), expire_on_commit=False) as session:
            yield session

    web_app.state._state.clear()  # the refusal window and sign-in throttle of an earlier test
    apply_sharing_limits()  # as create_app does, from this test's settings
    web_app.dependency_overrides[get_session] = _session
    try:
        with TestClient(web_app) as client:
            yield Api(client=client, db_url=url, keys=web_template.keys)
    finally:
        web_app.dependency_overrides.clear()
        engine_for(url).dispose()
