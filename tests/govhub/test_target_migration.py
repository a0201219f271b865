"""The migration to named delivery targets: URLs leave the database for 0600 secret files, deliveries keep going."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from catalog import seed_departments
from govhub.db import engine_for, migrate
from govhub.settings import reset_settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "govhub" / "migrations"
RSJ, ZJ = "11430900006012408C", "114309000060124167"


def _upgrade(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine_for(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_target_urls_become_named_targets_in_secret_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path / "home"))
    reset_settings()
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    _upgrade(url, "0008")
    engine = engine_for(url)
    with sa.orm.Session(engine) as session:
        seed_departments(session)
        session.commit()
    secret_url = "postgresql+psycopg://rs:s3cret@db.rsj/rs"
    with engine.begin() as conn:
        for i, (department, target) in enumerate(
            [(RSJ, secret_url), (RSJ, secret_url), (RSJ, "sqlite:////x/b.db"), (ZJ, "sqlite:////x/zj.db"), (ZJ, None)]
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO subscription (resource, department_code, purpose, legal_basis, fields, pii_access, "
                    "delivery_mode, target_url, schedule, status) VALUES (:r, :d, 'p', 'b', '[]', 0, :m, :t, "
                    "'on_publish', 'granted')"
                ),
                {"r": f"res{i}", "d": department, "m": "database" if target else "file", "t": target},
            )
    migrate(url)
    with engine.connect() as conn:
        subs = conn.execute(sa.text("SELECT department_code, target_name FROM subscription ORDER BY id")).all()
        targets = conn.execute(
            sa.text("SELECT department_code, name, connection_ref FROM delivery_target ORDER BY id")
        ).all()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("subscription")}
    assert "target_url" not in columns
    assert [tuple(s) for s in subs] == [(RSJ, "db"), (RSJ, "db"), (RSJ, "db-2"), (ZJ, "db"), (ZJ, None)]
    assert [(t[0], t[1]) for t in targets] == [(RSJ, "db"), (RSJ, "db-2"), (ZJ, "db")]
    secret = Path(targets[0][2].removeprefix("file:"))
    assert secret.read_text().strip() == secret_url
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.is_relative_to(tmp_path / "home" / "keys" / "delivery-targets")
    with engine.connect() as conn:
        dump = "\n".join(
            str(r) for t in ("subscription", "delivery_target") for r in conn.execute(sa.text(f"SELECT * FROM {t}"))
        )
    assert "s3cret" not in dump
    engine.dispose()
    reset_settings()
