"""The Alembic history builds exactly the tables the models declare: no drift either way."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

# importing the rooms registers every table on the shared metadata (as govhub/migrations/env.py does)
import catalog
import exchange.delivery.models
import exchange.log
import exchange.verify  # noqa: F401
import govhub.models  # noqa: F401
from core.db import engine_for
from govhub.db import migrate


def test_migrations_and_models_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate(url)
    with engine_for(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, catalog.Base.metadata)
    engine_for(url).dispose()
    assert diff == [], (
        "models and migrations disagree; add a migration (alembic revision --autogenerate):\n"
        + "\n".join(map(str, diff))
    )
