"""Leftover data files swept after a landed commit: only files listed before it and referenced by no commit.

A write killed before its commit, or refused by the guard (`_guard.py`), leaves data files no commit
references. They may not be deleted while the writer that wrote them could still commit: a writer that
stalled past its lease, its files written, lands its commit as the next version as long as the table did
not move on. So a writer lists the table's data files (`data_files`) right before it issues its own
guarded commit and, once that commit has landed, deletes those of the listed files no commit of the log
references (`sweep`). A listed file was written before this commit was issued, so by a writer that read
the table at a version this commit's version is not past: its commit, if not in the log already, could
only land as a version that exists now, and the guard refuses it for good. Files written after the
listing (a writer that took the lock over while this one stalled after its commit) are never touched.
This holds whoever holds the lock; it needs every commit to the table to be guarded and an atomic
put-if-absent for log entries (see `lake/README.md`, Concurrency).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import unquote

import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from lake._fs import filesystem_for
from lake._index_file import INDEX_DIR
from lake._state import CHANGES_DIR
from lake.integrity import LOG_DIR, _actions, _log_path

__all__ = ["data_files", "sweep"]

log = logging.getLogger(__name__)


def data_files(uri: str, options: Mapping[str, str]) -> frozenset[str]:
    """The Parquet data files under the Delta table at `uri` (paths relative to it): its log, its row index
    and a change table inside it (`_changes/`) left out."""
    fs, base = filesystem_for(uri, options)
    base = base.rstrip("/")
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    skipped = (f"{LOG_DIR}/", f"{INDEX_DIR}/", f"{CHANGES_DIR}/")
    return frozenset(
        rel
        for info in infos
        if info.type == pafs.FileType.File
        and (rel := info.path[len(base) + 1 :]).endswith(".parquet")
        and not rel.startswith(skipped)
    )


def sweep(uri: str, options: Mapping[str, str], listed: frozenset[str], *, landed: int) -> list[str]:
    """`_sweep`, after a commit that landed: a failure is logged, not raised (the files stay for the next sweep;
    `govhub lake verify` names them meanwhile), so it never turns a landed commit into a failed write."""
    try:
        return _sweep(uri, options, listed, landed=landed)
    except (OSError, DeltaError, ValueError):
        log.warning(
            "could not remove the leftover data files of %s; the next commit's sweep retries", uri, exc_info=True
        )
        return []


def _sweep(uri: str, options: Mapping[str, str], listed: frozenset[str], *, landed: int) -> list[str]:
    """Delete the files of `listed` (listed right before this writer's commit, which landed as version `landed`)
    that no commit of the table references (adds, removes, change data), and return them.

    Files live at the newest version are kept without reading the log; the log is replayed only when some
    listed file is not live. Nothing is deleted when the log no longer starts at version 0 (cleaned up).
    """
    if not listed:
        return []
    table = DeltaTable(uri, storage_options=dict(options))
    if table.version() < landed:
        raise ValueError(f"{uri} is at version {table.version()}, before the commit {landed} said to have landed")
    live = {unquote(p) for p in table.get_add_actions(flatten=True).column("path").to_pylist()}
    candidates = listed - live
    if not candidates:
        return []
    fs, base = filesystem_for(uri, options)
    base = base.rstrip("/")
    infos = fs.get_file_info(pafs.FileSelector(f"{base}/{LOG_DIR}", allow_not_found=True))
    commits = sorted(int(v) for i in infos if (name := i.base_name).endswith(".json") and (v := name[:-5]).isdigit())
    if not commits or commits[0] != 0:
        return []
    referenced: set[str] = set()
    for version in commits:
        for action in _actions(fs, f"{base}/{_log_path(version)}"):
            for kind in ("add", "remove", "cdc"):
                if kind in action:
                    referenced.add(unquote(action[kind]["path"]))
    orphans = sorted(candidates - referenced)
    for rel in orphans:
        fs.delete_file(f"{base}/{rel}")
    if orphans:
        log.warning(
            "removed %s data file(s) of %s no commit references (left by a killed or refused write): %s",
            len(orphans),
            uri,
            orphans,
        )
    return orphans
