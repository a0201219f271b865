"""Archive files walked in worker processes, a run of row groups each: how `verify` crosses a year of archives.

The archived events are split into runs of `GROUPS` row groups (160,000 events); two spawned workers
walk runs with `archive_walk.walk_batch` (rendered in Arrow, hashed by OpenSSL, refused rows hashed
exactly) and report each run's first link, last hash, events and the stored hash at the checkpoints'
seqs. The verifying process only joins the runs: a run that is not clean, does not link to the one
before, names a hash a checkpoint disagrees with, or belongs to a file that is missing, unreadable or
altered is where it stops; the caller then walks serially from that run (`iter_archive_batches` from
its first row group), which names the first changed event or the file exactly as before. Nothing is
taken on a worker's word but a run that checked out, which is the same check the serial walk makes.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GROUPS", "PARALLEL_FROM", "Joined", "join_runs"]

GROUPS = 8
"""Row groups per worker task (20,000 events each as written)."""
PARALLEL_FROM = 400_000
"""Archived events below which two workers' start-up (~2 CPU s each) does not pay."""


@dataclass
class _Run:
    record: int
    group: int
    clean: bool = False
    first_seq: int | None = None
    first_prev: str | None = None
    last: tuple[int, str] | None = None
    events: int = 0
    pinned: dict[int, str] = field(default_factory=dict)


@dataclass
class Joined:
    """How far the runs joined: the last confirmed event, events confirmed, the first seq, and where the
    serial walk must take over (record index, row group), None when every archived event checked out."""

    last: tuple[int, str]
    events: int = 0
    first_seq: int | None = None
    resume: tuple[int, int] | None = None


def _walk_run(
    root: str, options: dict[str, Any], path: str, record: int, group: int, count: int, pins: list[int]
) -> _Run:
    """In a worker: walk row groups group..group+count-1 of one file from its own first row."""
    import pyarrow.parquet as pq

    from exchange.log.archive_walk import walk_batch
    from lake._fs import filesystem_for

    run = _Run(record, group)
    try:
        fs, _ = filesystem_for(root, options)
        parquet = pq.ParquetFile(fs.open_input_file(path))
        wanted = set(pins)
        for g in range(group, min(group + count, parquet.num_row_groups)):
            for batch in parquet.iter_batches(batch_size=5000, row_groups=[g]):
                if not batch.num_rows:
                    continue
                if run.first_seq is None:
                    run.first_seq, run.first_prev = batch.column("seq")[0].as_py(), batch.column("prev_hash")[0].as_py()
                    run.last = (run.first_seq - 1, run.first_prev)
                assert run.last is not None
                done = walk_batch(batch, run.last[0], run.last[1], wanted)
                if done.bad is not None or done.last is None:
                    return run
                run.pinned.update({seq: found for seq, (_, found) in done.pinned.items()})
                run.last, run.events = done.last, run.events + done.good
    except Exception:
        return run
    run.clean = True
    return run


def join_runs(
    location: Any, records: Sequence[Any], start: tuple[int, str], expected: Mapping[int, Sequence[str]]
) -> Joined:
    """Walk the archive files (`location`: the archive's `_Location`) in worker processes and join the runs
    from `start` (seq, hash); `expected`: the hash each good checkpoint names at its seq."""
    import pyarrow.parquet as pq

    joined = Joined(last=start)
    pins = sorted(expected)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        for k, record in enumerate(records):
            try:
                path = location.path(record.path)
                groups = pq.ParquetFile(location.fs.open_input_file(path)).num_row_groups
            except Exception:
                joined.resume = (k, 0)
                return joined
            inside = [p for p in pins if record.from_seq <= p <= record.to_seq]
            futures: Iterator[Future[_Run]] = iter(
                [
                    pool.submit(_walk_run, location.root, location.options, path, k, g, GROUPS, inside)
                    for g in range(0, groups, GROUPS)
                ]
            )
            altered = location.digest(record.path) != record.file_sm3  # while the workers walk
            before = (joined.last, joined.events, joined.first_seq)
            for future in futures:
                run = future.result()
                at = joined.last
                wrong = any(h != found for seq, found in run.pinned.items() for h in expected.get(seq, ()))
                if not run.clean or run.last is None or run.first_seq != at[0] + 1 or run.first_prev != at[1] or wrong:
                    for rest in futures:
                        rest.cancel()
                    joined.resume = (k, run.group)
                    return joined
                before = (joined.last, joined.events, joined.first_seq)
                joined.first_seq = run.first_seq if joined.first_seq is None else joined.first_seq
                joined.last, joined.events = run.last, joined.events + run.events
            if altered:  # the serial walk reads the last run again, then raises naming the file
                joined.last, joined.events, joined.first_seq = before
                joined.resume = (k, max(0, (groups - 1) // GROUPS * GROUPS))
                return joined
    return joined
