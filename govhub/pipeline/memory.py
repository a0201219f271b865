"""Hand memory a finished stage freed back to the system, so the next stage's peak does not stack on it."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

import pyarrow as pa

__all__ = ["release_memory"]

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Return freed memory to the system: Arrow's pool caches and glibc's free lists.

    A full load's extract frees some 100 MB of batches and verdicts (500,000 persons) that the
    allocators keep for reuse; the Delta write that follows allocates through delta-rs' own
    allocator, which cannot reuse them, so the process peak would be the sum of both.
    """
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
