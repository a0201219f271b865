"""Run records and the per-resource lock: who runs, since when, and what state they started from."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from catalog import utcnow
from core.ids import short_suffix
from govhub.models import IngestRun, ResourceState
from schemas import StateError

__all__ = ["acquire_lock", "get_run", "heartbeat", "new_run_id", "release_lock", "resource_state"]


def new_run_id(resource: str, seq: int) -> str:
    """Readable and unique: resource, sequence, a short random suffix (re-runs reuse the sequence)."""
    return f"{resource}-{seq:06d}-{short_suffix()}"


def resource_state(session: Session, resource: str) -> ResourceState:
    """The state row of a resource, created on first use.

    Two runs starting at once may both find no row: the insert skips a row another run created
    (it waits for that run's commit on PostgreSQL), then reads whichever row won, so the loser
    meets the lock (a StateError naming the holder) instead of a unique-key violation.
    """
    state = session.get(ResourceState, resource)
    if state is None:
        session.execute(_insert_if_absent(session, resource))
        state = session.get(ResourceState, resource)
        assert state is not None
    return state


def _insert_if_absent(session: Session, resource: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING of a resource's empty state row (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return (
        insert(ResourceState).values(resource=resource, last_seq=0).on_conflict_do_nothing(index_elements=["resource"])
    )


def _holder_is_dead(state: ResourceState, lease: timedelta, now: datetime, *, pid_check: bool) -> bool:
    heartbeat = state.lock_heartbeat
    if heartbeat is not None and heartbeat.tzinfo is None:  # SQLite returns naive UTC
        heartbeat = heartbeat.replace(tzinfo=now.tzinfo)
    if heartbeat is None or now - heartbeat > lease:
        return True
    if pid_check and state.lock_host == socket.gethostname() and state.lock_pid:
        try:
            os.kill(state.lock_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def acquire_lock(session: Session, resource: str, run_id: str, *, lease_seconds: int) -> str | None:
    """Take the resource's lock for run_id; returns the run id of a dead holder that was displaced.

    Atomic on PostgreSQL and SQLite alike: a conditional UPDATE that only one caller can win. A
    holder whose heartbeat is older than the lease is dead; so is a single-process CLI run on this
    host whose process is gone. Airflow runs span several task processes, so for them only the
    lease counts.
    """
    state = resource_state(session, resource)
    session.commit()
    now = utcnow()
    previous = state.lock_run_id
    condition = ResourceState.lock_run_id.is_(None)
    lease = timedelta(seconds=lease_seconds)
    holder = session.get(IngestRun, previous) if previous else None
    pid_check = holder is None or holder.orchestrator == "cli"
    if previous is not None and _holder_is_dead(state, lease, now, pid_check=pid_check):
        condition = or_(condition, ResourceState.lock_run_id == previous)
    result = session.execute(
        update(ResourceState)
        .where(ResourceState.resource == resource, condition)
        .values(lock_run_id=run_id, lock_host=socket.gethostname(), lock_pid=os.getpid(), lock_heartbeat=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:
        session.refresh(state)
        raise StateError(
            f"resource '{resource}' is being ingested by run {state.lock_run_id} "
            f"(host {state.lock_host}, pid {state.lock_pid}, last heartbeat {state.lock_heartbeat}); "
            "wait for it to finish. If that run is dead, its lock expires after GOVHUB_LOCK_LEASE_SECONDS."
        )
    session.expire(state)
    return previous


def heartbeat(session: Session, resource: str, run_id: str) -> None:
    """Refresh the lock (each stage does), failing if another run took it over."""
    result = session.execute(
        update(ResourceState)
        .where(ResourceState.resource == resource, ResourceState.lock_run_id == run_id)
        .values(lock_heartbeat=utcnow(), lock_pid=os.getpid(), lock_host=socket.gethostname())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        now = session.execute(
            select(ResourceState.lock_run_id, ResourceState.lock_host, ResourceState.lock_pid).where(
                ResourceState.resource == resource
            )
        ).one_or_none()
        held = (
            f"run {now[0]} holds it now (host {now[1]}, pid {now[2]})"
            if now is not None and now[0]
            else "nobody holds it now"
        )
        raise StateError(
            f"run {run_id} no longer holds the lock of '{resource}'; another run took over: {held}. Stop here."
        )


def release_lock(session: Session, resource: str, run_id: str) -> None:
    """Release the lock if this run still holds it."""
    session.execute(
        update(ResourceState)
        .where(ResourceState.resource == resource, ResourceState.lock_run_id == run_id)
        .values(lock_run_id=None, lock_host=None, lock_pid=None, lock_heartbeat=None)
        .execution_options(synchronize_session=False)
    )


def get_run(session: Session, run_id: str) -> IngestRun:
    """The run record, or a StateError naming the run id."""
    run = session.scalars(select(IngestRun).where(IngestRun.run_id == run_id)).one_or_none()
    if run is None:
        raise StateError(f"no ingest run '{run_id}'; start one with begin(resource) or `govhub ingest RESOURCE`")
    return run
