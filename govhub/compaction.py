"""Compaction of curated tables: MERGE the pending changes into the base, and register what it wrote.

A run appends its changes to the table's change table (merge-on-read); once the pending changes pass
`lake_compact_threshold` of the base's rows (GOVHUB_LAKE_COMPACT_THRESHOLD, default 10 %) the run
that crossed it compacts, and `govhub lake compact [RESOURCE]` does it on demand or on a schedule.
Each compaction commit's manifest (log entry, files, SHA-256) joins the catalogue record of the
dataset version it compacted through (`files["compactions"]`), so `govhub lake verify` covers it. A
compaction killed after its commit is registered by the next call (`register_compactions`).

Two workers never compact one table at once: each compaction holds the resource's lock (the one ingests
take). Once its commit has landed, a compaction removes the base's files a killed or refused write left
(`lake/_sweep.py`: only files listed before its commit, whose writers the guard now refuses). A worker
that finds the lock held refuses that resource cleanly — nothing written, the holder named — and goes on
with the others (`CompactionOutcome.busy`); the holder, or the next round, compacts it.

A compaction can outlast the lock's lease (`GOVHUB_LOCK_LEASE_SECONDS`), so it keeps the lock alive from a
background thread (`govhub.lease.LeaseKeeper`, the ingest's `heartbeat`) and checks it before it writes
and right before its Delta commit: a compaction whose lock another
worker took over all the same (its process stalled past the lease) stops there, nothing written. One that
stalls after that check, inside delta-rs, has its commit refused if the worker that took over committed
to the base meanwhile (`lake.CommitRefused`): it is reported like a lost lock, nothing written.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from catalog import list_versions
from lake import CommitRefused, CompactionInfo, CuratedTable, compaction_manifest

__all__ = ["CompactionOutcome", "compact_lake", "compact_table", "register_compactions"]

log = logging.getLogger(__name__)
HOLDER_PREFIX = "compact-"  # the lock holder id of a compaction (an ingest holds it under its run id)


@dataclass(frozen=True)
class CompactionOutcome:
    """What `compact_lake` did with one resource: compacted (`info`), nothing due (`info` None), or refused
    because another worker holds the resource's lock (`busy` names it; nothing was written)."""

    resource: str
    info: CompactionInfo | None = None
    busy: str | None = None


def register_compactions(session: Any, table: CuratedTable) -> int:
    """Record the manifest of every compaction commit of `table` not yet in the catalogue; how many."""
    resource = table.contract.resource
    versions = {v.version: v for v in list_versions(session, resource)}
    recorded = {int(c["base_version"]) for v in versions.values() for c in (v.files or {}).get("compactions", [])}
    added = 0
    for info in reversed(table.compactions()):
        row = versions.get(info.dataset_version)
        if info.base_version in recorded or row is None or row.files is None:
            continue  # recorded already, or its dataset version is not registered yet (a later call does it)
        files = dict(row.files)
        files["compactions"] = [*files.get("compactions", []), compaction_manifest(table, info.base_version)]
        row.files = files
        added += 1
        log.info(
            "registered compaction %s of %s (through version %s)", info.base_version, resource, info.dataset_version
        )
    return added


def compact_table(
    session: Any, table: CuratedTable, *, threshold: float | None, holder: str, lease_seconds: float
) -> CompactionInfo | None:
    """Compact `table` when due (`threshold`: share of the base's rows; None: whenever changes are pending).

    `holder` holds the resource's lock (a compaction's id, or the ingest run that crossed the threshold);
    the lock is kept alive while the compaction runs and checked before its commit, which raises
    `LeaseLost` (nothing written) when another worker took it over.
    """
    from govhub.lease import LeaseKeeper  # it imports the pipeline, which imports this module

    register_compactions(session, table)  # one a killed process committed but did not register
    session.commit()  # no write stays open while the lease is refreshed from another session (SQLite)
    with LeaseKeeper(table.contract.resource, holder, lease_seconds=lease_seconds) as lease:
        info = table.compact(threshold=threshold, fence=lease.check)
    if info is not None:
        register_compactions(session, table)
    return info


def compact_lake(resources: Sequence[str] | None = None, *, force: bool = False) -> list[CompactionOutcome]:
    """`govhub lake compact`: each resource's table (default: all) compacted when due, or now with `force`.

    Each under its resource's lock; a resource whose lock another worker holds is skipped (`busy`), the
    others are still compacted.
    """
    from govhub.db import migrate, session_scope
    from govhub.delivery_runner import open_lake
    from govhub.lease import LeaseLost
    from govhub.pipeline.runs import acquire_lock, release_lock  # the pipeline imports this module
    from govhub.settings import get_settings
    from schemas import StateError, load_all, load_contract

    migrate()
    lake = open_lake()
    settings = get_settings()
    threshold = None if force else settings.lake_compact_threshold
    done = []
    for resource in resources or sorted(load_all()):
        table = lake.curated(load_contract(resource))
        if not table.exists():
            continue
        holder = f"{HOLDER_PREFIX}{uuid.uuid4().hex[:12]}"
        with session_scope() as session:  # no run writes the table meanwhile (and none of its files is in flight)
            try:
                acquire_lock(session, resource, holder, lease_seconds=settings.lock_lease_seconds)
            except StateError:
                done.append(CompactionOutcome(resource, busy=_holder(session, resource)))
                log.warning("not compacting %s: %s", resource, done[-1].busy)
                continue
            try:
                info = compact_table(
                    session, table, threshold=threshold, holder=holder, lease_seconds=settings.lock_lease_seconds
                )
                done.append(CompactionOutcome(resource, info))
            except (LeaseLost, CommitRefused) as e:  # displaced while it ran: the new holder owns the table
                session.expire_all()
                refused = " (its commit was refused: the table had moved on)" if isinstance(e, CommitRefused) else ""
                done.append(
                    CompactionOutcome(
                        resource, busy=f"lost the lock while compacting{refused}; {_holder(session, resource)}"
                    )
                )
                log.error("compaction %s of %s stopped before its commit: %s", holder, resource, e)
            finally:
                release_lock(session, resource, holder)
    return done


def _holder(session: Any, resource: str) -> str:
    """Who holds `resource`'s lock, for the refusal: a compaction or an ingest run, its host, pid and heartbeat."""
    from govhub.pipeline.runs import resource_state

    state = resource_state(session, resource)
    holder = state.lock_run_id or "?"
    what = "another compaction" if holder.startswith(HOLDER_PREFIX) else "ingest run"
    return (
        f"{what} {holder} holds the lock of '{resource}' (host {state.lock_host}, pid {state.lock_pid}, last "
        f"heartbeat {state.lock_heartbeat}); nothing was written: it is compacted by its holder or the next round"
    )
