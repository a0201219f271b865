"""One delivery run per resource at a time, across threads and processes, on SQLite and PostgreSQL.

Two runs of `deliver_resource` for the same resource (the deliver DAG and `govhub delivery run`,
say) would otherwise both find a version undelivered and both send it. The second run waits for
the first, then finds the version delivered and sends nothing. PostgreSQL: a session-level
advisory lock on a connection of its own (released by the server if the process dies). SQLite: an
exclusive `flock` on a file beside the database (released by the kernel if the process dies).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["delivery_lock"]

log = logging.getLogger(__name__)


@contextmanager
def delivery_lock(session: Session, resource: str) -> Iterator[None]:
    """Hold the delivery lock of `resource` in the store `session` is bound to; waits for a holder."""
    engine = session.get_bind()
    name = f"govhub.delivery.{resource}"
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtextextended(:name, 0))"), {"name": name})
            conn.commit()  # the lock is the connection's, not the transaction's
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"), {"name": name})
                conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield  # one connection's private store: nobody else can deliver from it
        return
    import fcntl

    with open(Path(f"{database}.{name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
