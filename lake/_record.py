"""What a curated commit records in its Delta log entry, and the `CommitInfo` read back from it.

Every run's commit carries the app transaction `(app_id, run_seq)` and custom metadata: `govhub.run_seq`,
`govhub.app_id`, `govhub.metadata_keys` and the caller's keys; a change commit adds its counts and
`govhub.rows_total`. `last_commit` and the commit guard read them back (see `lake/README.md`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from deltalake import CommitProperties, DeltaTable, Transaction

__all__ = [
    "APP_ID_KEY",
    "COUNT_KEYS",
    "DATASET_VERSION_KEY",
    "METADATA_KEYS_KEY",
    "ROWS_TOTAL_KEY",
    "RUN_SEQ_KEY",
    "CommitInfo",
    "commit_time",
    "custom_metadata",
    "find_commit",
    "info_of",
    "run_properties",
]

RUN_SEQ_KEY = "govhub.run_seq"
APP_ID_KEY = "govhub.app_id"
METADATA_KEYS_KEY = "govhub.metadata_keys"
ROWS_TOTAL_KEY = "govhub.rows_total"
COUNT_KEYS = ("govhub.rows_inserted", "govhub.rows_updated", "govhub.rows_deleted")
DATASET_VERSION_KEY = "govhub.dataset_version"


@dataclass(frozen=True)
class CommitInfo:
    """One commit made by a pipeline run: the dataset version it produced and what it changed."""

    version: int
    timestamp: datetime
    run_seq: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0


def commit_time(entry: Mapping[str, Any]) -> datetime:
    """When a commit was made, from its history entry (milliseconds since the epoch, UTC)."""
    return datetime.fromtimestamp(int(entry["timestamp"]) / 1000, tz=UTC)


def custom_metadata(app_id: str, run_seq: int, metadata: Mapping[str, str]) -> dict[str, str]:
    """A run commit's custom metadata: the caller's keys, the run's sequence and app, and which keys are whose."""
    custom = {str(k): str(v) for k, v in metadata.items()}
    custom.update({RUN_SEQ_KEY: str(run_seq), APP_ID_KEY: app_id, METADATA_KEYS_KEY: json.dumps(sorted(custom))})
    return custom


def run_properties(app_id: str, run_seq: int, metadata: Mapping[str, str]) -> CommitProperties:
    """A run commit's properties: its custom metadata and the app transaction `last_commit` recognises."""
    custom = custom_metadata(app_id, run_seq, metadata)
    return CommitProperties(custom_metadata=custom, app_transactions=[Transaction(app_id, run_seq)])


def info_of(
    dt: DeltaTable,
    run_seq: int,
    metadata: Mapping[str, str],
    *,
    inserted: int,
    updated: int = 0,
    deleted: int = 0,
    offset: int = 0,
) -> CommitInfo:
    """The `CommitInfo` of the commit `dt` was just moved on by (`offset`: dataset version of `dt`'s version 0)."""
    return CommitInfo(
        version=offset + dt.version(),
        timestamp=commit_time(dt.history(1)[0]),
        run_seq=run_seq,
        metadata=dict(metadata),
        rows_inserted=int(inserted),
        rows_updated=int(updated),
        rows_deleted=int(deleted),
    )


def find_commit(
    history: Iterable[Mapping[str, Any]], app_id: str, run_seq: int, *, offset: int = 0
) -> CommitInfo | None:
    """The `CommitInfo` of run `run_seq` of `app_id` among a table's history entries (None: not there any more)."""
    for entry in history:
        if entry.get(APP_ID_KEY) == app_id and entry.get(RUN_SEQ_KEY) == str(run_seq):
            return _info_from_history(entry, offset=offset)
    return None


def _info_from_history(entry: Mapping[str, Any], *, offset: int = 0) -> CommitInfo:
    """A run commit's `CommitInfo` from its history entry: a change commit's counts, else the MERGE's or append's."""
    names = json.loads(entry.get(METADATA_KEYS_KEY, "[]"))
    metrics = entry.get("operationMetrics") or {}
    if COUNT_KEYS[0] in entry:  # a change-table commit: its counts against the state before
        counts = tuple(int(entry[k]) for k in COUNT_KEYS)
    elif entry.get("operation") == "MERGE":
        counts = (
            metrics.get("num_target_rows_inserted", 0),
            metrics.get("num_target_rows_updated", 0),
            metrics.get("num_target_rows_deleted", 0),
        )
    else:
        counts = (metrics.get("num_added_rows", 0), 0, 0)
    return CommitInfo(
        version=offset + int(entry["version"]),
        timestamp=commit_time(entry),
        run_seq=int(entry[RUN_SEQ_KEY]),
        metadata={n: str(entry[n]) for n in names if n in entry},
        rows_inserted=int(counts[0]),
        rows_updated=int(counts[1]),
        rows_deleted=int(counts[2]),
    )
