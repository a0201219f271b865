"""Rate limits counted by the `limits` library on the storage `GOVHUB_RATE_LIMIT_STORAGE` names.

`memory://` counts in each process; `redis://[:password@]host:6379/N` shares the counts between the
web workers, so N workers still allow one limit, not N. When the shared storage cannot be reached
the limiter logs it once and counts in its own process until the storage answers again: an outage
neither lifts the limits nor stops the hub.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal, TypeVar

from limits import RateLimitItem, storage, strategies

__all__ = ["Limiter"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_STRATEGIES: dict[str, type[strategies.RateLimiter]] = {
    "moving-window": strategies.MovingWindowRateLimiter,  # exact: at most N in any window
    "sliding-window": strategies.SlidingWindowCounterRateLimiter,  # two counters per key, smooth like a bucket
}


class Limiter:
    """One `limits` strategy over the configured storage, falling back to process memory while it is down."""

    def __init__(
        self, storage_uri: str = "memory://", *, strategy: Literal["moving-window", "sliding-window"] = "moving-window"
    ) -> None:
        self.storage_uri = storage_uri
        self._storage = storage.storage_from_string(storage_uri)
        self._shared = _STRATEGIES[strategy](self._storage)
        is_memory = isinstance(self._storage, storage.MemoryStorage)
        self._local = None if is_memory else _STRATEGIES[strategy](storage.MemoryStorage())
        self._degraded = False

    def _call(self, action: Callable[[strategies.RateLimiter], T]) -> T:
        if self._local is None:
            return action(self._shared)
        try:
            result = action(self._shared)
        except self._storage.base_exceptions as e:
            if not self._degraded:
                log.warning(
                    "rate-limit storage %s unreachable (%s); counting in this process until it answers",
                    _redacted(self.storage_uri),
                    e,
                )
                self._degraded = True
            return action(self._local)
        if self._degraded:
            log.warning("rate-limit storage %s answers again; counts are shared again", _redacted(self.storage_uri))
            self._degraded = False
        return result

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """Take `cost` from the limit; False (taking nothing) when that would exceed it."""
        return self._call(lambda limiter: limiter.hit(item, *identifiers, cost=cost))

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """Whether `cost` more would still be within the limit (takes nothing)."""
        return self._call(lambda limiter: limiter.test(item, *identifiers, cost=cost))

    def reset_time(self, item: RateLimitItem, *identifiers: str) -> float:
        """When (epoch seconds) the window frees room again."""
        return self._call(lambda limiter: limiter.get_window_stats(item, *identifiers).reset_time)

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        """Forget the counts of one key."""
        self._call(lambda limiter: limiter.clear(item, *identifiers))


def _redacted(uri: str) -> str:
    """The storage URI without its password, for logs."""
    scheme, sep, rest = uri.partition("://")
    if "@" not in rest:
        return uri
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"
