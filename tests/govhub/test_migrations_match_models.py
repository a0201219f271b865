"""The Alembic history builds exactly the tables the models declare: no drift either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.types import TypeDecorator

# importing the rooms registers every table on the shared metadata (as govhub/migrations/env.py does)
import catalog
import exchange.delivery.models
import exchange.log
import exchange.verify  # noqa: F401
import govhub.models  # noqa: F401
import web.monitor.sessions  # noqa: F401  (the monitor's revoked-session table)
from core.db import engine_for
from govhub.db import migrate

# columns whose stored type differs from the model's on purpose, and why
DELIBERATE = {
    ("exchange_event", "details"): "a JSON column the log writes as canonical text (CanonicalJSON), read unparsed",
}


def _compare_type(
    _context: Any, _inspected: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    """A column type that decorates another (canonical JSON, UTC timestamps) is stored as that other type."""
    if (metadata_column.table.name, metadata_column.name) in DELIBERATE:
        return False
    if isinstance(metadata_type, TypeDecorator):
        return not isinstance(inspected_type, type(metadata_type.impl_instance))
    return None  # Alembic's own comparison


def test_migrations_and_models_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate(url)
    with engine_for(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": _compare_type})
        diff = compare_metadata(context, catalog.Base.metadata)
    engine_for(url).dispose()
    assert diff == [], (
        "models and migrations disagree; add a migration (alembic revision --autogenerate):\n"
        + "\n".join(map(str, diff))
    )
