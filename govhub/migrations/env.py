"""Alembic environment: the hub's metadata tables from every room share one history."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

# importing the rooms registers their tables on the shared metadata
import catalog
import exchange.access
import exchange.delivery.models
import exchange.log
import exchange.verify  # noqa: F401
import govhub.models  # noqa: F401

target_metadata = catalog.Base.metadata


def run_migrations() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:  # the alembic command line: build an engine from sqlalchemy.url
        engine = engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        with engine.connect() as connection:
            _run(connection)
    else:  # govhub.db.migrate() hands over its connection
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
