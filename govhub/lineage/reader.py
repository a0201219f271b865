"""Read a resource's OpenLineage events back from the file transport, newest first, for the monitor.

The file is JSON lines appended by every writer (the CLI, the delivery runner, Airflow's OpenLineage
provider). It is read from the end in blocks, so asking for the latest 100 events of a resource costs
the same however long the file has grown. A line that does not parse (a writer died mid-line) is skipped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from govhub.lineage.datasets import NAMESPACE, curated_name

__all__ = ["event_matches", "read_lineage"]

log = logging.getLogger(__name__)

_BLOCK = 1 << 16
_JOB_PREFIXES = ("ingest_", "deliver_", "serve_")


def read_lineage(resource: str, *, home: Path | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The latest `limit` OpenLineage events about `resource`, newest first, as the JSON dicts written.

    An event is about `resource` when its job is `ingest_<resource>`, `deliver_<resource>` or
    `serve_<resource>` (or one of their Airflow tasks, `ingest_<resource>.advance`), or when it reads or
    writes `govhub://curated/<resource>` or `govhub://department/<code>/<resource>`.

    Args:
        home: the GOVHUB_HOME whose `lineage/events.jsonl` to read (default: the configured one).
        limit: at most this many events.

    Returns an empty list when lineage has not written anything yet.
    """
    if home is None:
        from govhub.settings import get_settings

        path = get_settings().lineage_file
    else:
        path = Path(home).expanduser().resolve() / "lineage" / "events.jsonl"
    if limit <= 0 or not path.exists():
        return []
    events: list[dict[str, Any]] = []
    for line in _lines_backwards(path):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            log.debug("lineage: skipped an unreadable line in %s", path)
            continue
        if isinstance(event, dict) and event_matches(event, resource):
            events.append(event)
            if len(events) >= limit:
                break
    return events


def event_matches(event: dict[str, Any], resource: str) -> bool:
    """Whether an OpenLineage event is about `resource` (its job or one of its govhub datasets)."""
    job = str((event.get("job") or {}).get("name", ""))
    for prefix in _JOB_PREFIXES:
        name = prefix + resource
        if job == name or job.startswith(name + "."):
            return True
    curated = curated_name(resource)
    for dataset in [*(event.get("inputs") or []), *(event.get("outputs") or [])]:
        if dataset.get("namespace") != NAMESPACE:
            continue
        name = str(dataset.get("name", ""))
        if name == curated or (name.startswith("department/") and name.endswith("/" + resource)):
            return True
    return False


def _lines_backwards(path: Path) -> Iterator[bytes]:
    """The file's non-empty lines, last first, reading blocks from the end."""
    with open(path, "rb") as f:
        position = f.seek(0, os.SEEK_END)
        tail = b""
        while position > 0:
            size = min(_BLOCK, position)
            position -= size
            f.seek(position)
            block = f.read(size) + tail
            lines = block.split(b"\n")
            tail = lines.pop(0)  # may be the end of a line that starts in an earlier block
            for line in reversed(lines):
                if line.strip():
                    yield line
        if tail.strip():
            yield tail
