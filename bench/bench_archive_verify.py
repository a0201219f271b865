"""Archived events checked per second: the per-row Python walk against the Arrow-rendered one, same file, same run.

    python -m bench.bench_archive_verify --file <lake>/exchange_log/archive/2025-01/<from>-<to>.parquet \
        --events 500000

`per_row` is what `verify` and the archive's read-back did per archived event before: the row as a
Python mapping (`iter_archive_rows`: `to_pylist`, `json.loads(details)`), then `event_hash` and the link
checks. `arrow` is `archive_walk.walk_batch` over the same batches, the next one rendered ahead in a
thread as `verify` does (`rendered_ahead`). Both walk
the first `--events` events of the file (whole row groups) in this process; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any


def _record(path: Path) -> tuple[str, Any]:
    from exchange.log._hashing import sm3_hex
    from exchange.log.models import ArchiveRecord

    lo, hi = (int(part) for part in path.stem.split("-"))
    rel = "/".join(path.parts[-4:])
    root = str(path.parents[3])
    return root, ArchiveRecord(path=rel, from_seq=lo, to_seq=hi, file_sm3=sm3_hex(path.read_bytes()))


def per_row(root: str, record: Any, events: int) -> tuple[int, float]:
    """Events checked and seconds, the old way."""
    from exchange.log._hashing import event_hash
    from exchange.log.archive import iter_archive_rows

    start, checked, link = time.perf_counter(), 0, None
    for row in iter_archive_rows(root, [record]):
        if (link is not None and row["prev_hash"] != link) or event_hash(row) != row["hash"]:
            raise SystemExit(f"seq {row['seq']} does not verify")
        link, checked = row["hash"], checked + 1
        if checked >= events:
            break
    return checked, time.perf_counter() - start


def arrow(root: str, record: Any, events: int) -> tuple[int, float]:
    """Events checked and seconds, rendered in Arrow and hashed by OpenSSL."""
    from exchange.log.archive import iter_archive_batches
    from exchange.log.archive_walk import rendered_ahead, walk_batch

    start, checked = time.perf_counter(), 0
    seq, link = record.from_seq - 1, None
    for item, texts in rendered_ahead(iter_archive_batches(root, [record])):
        first = item.batch.column("prev_hash")[0].as_py() if link is None else link
        done = walk_batch(item.batch, seq, first, (), texts)
        if done.bad is not None or done.last is None:
            raise SystemExit(f"batch after seq {seq} does not verify")
        (seq, link), checked = done.last, checked + done.good
        if checked >= events:
            break
    return checked, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--events", type=int, default=500_000)
    args = parser.parse_args()
    root, record = _record(args.file.resolve())
    figures: dict[str, Any] = {"load_before": os.getloadavg()}
    for name, walk in (("per_row", per_row), ("arrow", arrow)):
        checked, seconds = walk(root, record, args.events)
        figures[f"{name}_events"] = checked
        figures[f"{name}_s"] = round(seconds, 2)
        figures[f"{name}_events_per_s"] = round(checked / seconds)
    figures["speedup"] = round(figures["arrow_events_per_s"] / figures["per_row_events_per_s"], 2)
    figures["load_after"] = os.getloadavg()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
