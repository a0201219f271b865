"""Ordered, bounded parallel map: batches of a run processed on two cores, results in input order."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["ordered_map", "workers"]

T = TypeVar("T")
R = TypeVar("R")


def workers() -> int:
    """Threads for batch work: at most 2 (Arrow kernels release the GIL; more only adds memory)."""
    return max(1, min(2, os.cpu_count() or 1))


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, threads: int | None = None) -> Iterator[R]:
    """`map(fn, items)` with up to `threads` calls running at once and results yielded in order.

    At most `threads` + 1 items are in flight, so memory stays a few batches whatever the input
    size. An exception in `fn` is raised at its item's turn; pending calls are then cancelled.
    """
    threads = threads or workers()
    if threads <= 1:
        yield from map(fn, items)
        return
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="govhub-batch") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
