"""`migrate` applies what is pending and, when nothing is, leaves Alembic unimported (a fresh
process's start-up cost)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from core.db import engine_for
from govhub.db import _MIGRATIONS, head_revisions, migrate

ROOT = Path(__file__).resolve().parents[2]


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _stored(url: str) -> set[str]:
    with engine_for(url).connect() as connection:
        return {r[0] for r in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}


def test_heads_read_from_the_files_are_alembics() -> None:
    assert head_revisions() == frozenset(ScriptDirectory.from_config(_config()).get_heads())


def test_a_pending_migration_is_still_applied(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    script = ScriptDirectory.from_config(_config())
    (head,) = script.get_heads()
    previous = script.get_revision(head).down_revision
    with engine_for(url).begin() as connection:  # a store one migration behind
        command.upgrade(_config(connection), str(previous))
    assert _stored(url) == {previous}
    migrate(url)
    assert _stored(url) == {head}
    migrate(url)  # nothing pending: a no-op
    assert _stored(url) == {head}
    engine_for(url).dispose()


def test_an_up_to_date_store_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate(url)
    engine_for(url).dispose()
    code = f"import sys; from govhub.db import migrate; migrate({url!r}); print('alembic' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"  # a new store: Alembic creates every table
    code = f"import sys; from govhub.db import migrate; migrate({fresh!r}); print('alembic' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True", done.stderr
    assert _stored(fresh) == set(head_revisions())
    engine_for(fresh).dispose()
