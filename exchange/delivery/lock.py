"""One delivery run per resource at a time, across threads and processes, on SQLite and PostgreSQL.

Two runs of `deliver_resource` for the same resource (the deliver DAG and `govhub delivery run`,
say) would otherwise both find a version undelivered and both send it. The second run waits for
the first, then finds the version delivered and sends nothing. PostgreSQL: a session-level
advisory lock on a connection of its own (released by the server if the process dies). SQLite: an
exclusive `flock` on a file beside the database (released by the kernel if the process dies); an
in-memory SQLite store is private to its process, so a process-wide lock suffices. Any other
database raises `StateError` instead of delivering unguarded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from core.errors import StateError

__all__ = ["delivery_lock"]

log = logging.getLogger(__name__)

_IN_PROCESS: dict[str, threading.Lock] = {}  # in-memory SQLite stores: threads of this process only
_IN_PROCESS_GUARD = threading.Lock()


@contextmanager
def delivery_lock(session: Session, resource: str) -> Iterator[None]:
    """Hold the delivery lock of `resource` in the store `session` is bound to; waits for a holder.

    Raises StateError on a database it cannot lock (neither PostgreSQL nor SQLite).
    """
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
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
    if engine.dialect.name != "sqlite":
        raise StateError(
            f"cannot hold the delivery lock of {resource} on a {engine.dialect.name} metadata store: "
            "deliveries need PostgreSQL (advisory locks) or SQLite (file locks); set GOVHUB_DB_URL to one of them"
        )
    database = engine.url.database
    if not database or database == ":memory:" or "mode=memory" in database:
        with _IN_PROCESS_GUARD:
            lock = _IN_PROCESS.setdefault(name, threading.Lock())
        with lock:
            yield
        return
    import fcntl

    with open(Path(f"{database}.{name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
